"""The classic detectors duckbert must beat, fitted on the same split:

- TF-IDF (word 1-2 grams) + logistic regression on the session text;
- gradient boosting on the session aggregates (the numeric columns of the table);
- isolation forest on the same aggregates (unsupervised).
Each picks its one hyper-parameter on validation and returns test scores. With too few labels
for a validation split, the `*_folds` variants pick it by cross-validation over user folds
(the same folds as training.crossval) and refit on every labelled row.
"""

from __future__ import annotations

import numpy as np

from udf.sqlident import quote_table

NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE",
                 "DECIMAL", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "BOOLEAN")


def read_aggregates(con, table: str, id_col: str, exclude: set[str]) -> tuple[list, dict]:
    """Numeric columns of `table` (minus labels and ids): (column names, id -> row vector)."""
    from udf.sqlident import quote_identifier

    described = con.execute(f"describe {quote_table(table)}").fetchall()
    columns = [name for name, kind, *_ in described
               if kind.split("(")[0] in NUMERIC_TYPES and name not in exclude]
    if not columns:
        return [], {}
    select = ", ".join(f"cast({quote_identifier(c)} as double)" for c in columns)
    rows = con.execute(
        f"select cast({quote_identifier(id_col)} as varchar), {select} "
        f"from {quote_table(table)}"
    ).fetchall()
    return columns, {r[0]: np.array(r[1:], dtype=np.float64) for r in rows}


def _pick(fit_score, options, y_val):
    from sklearn.metrics import average_precision_score

    best = None
    for option in options:
        val_scores, test_scores = fit_score(option)
        auc = average_precision_score(y_val, val_scores)
        if best is None or auc > best[0]:
            best = (auc, option, val_scores, test_scores)
    return best


TFIDF_C = (0.3, 1.0, 3.0, 10.0, 30.0)  # logistic regression's inverse regularisation
GBM_OPTIONS = ((0.05, 31), (0.1, 15), (0.1, 63))  # (learning rate, max leaf nodes)


def _vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                           token_pattern=r"(?u)\b\w+\b|[$*+]+")


def _logreg(c: float, seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)


# With few labels, sklearn's default 20 rows per leaf can hold every anomaly of the fit
# together with normals, and the trees never split them off; the fold variant also tries 3.
FEW_LABEL_MIN_LEAF = (3, 20)


def _gbm(option: tuple, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    lr, leaves, *min_leaf = option
    return HistGradientBoostingClassifier(learning_rate=lr, max_leaf_nodes=leaves,
                                          min_samples_leaf=min_leaf[0] if min_leaf else 20,
                                          max_iter=300, early_stopping=True,
                                          random_state=seed)


def tfidf_logreg(texts_train, y_train, texts_val, y_val, texts_test, seed: int = 0):
    """(val scores, test scores, chosen C) of TF-IDF + logistic regression."""
    vectorizer = _vectorizer()
    x_train = vectorizer.fit_transform(texts_train)
    x_val, x_test = vectorizer.transform(texts_val), vectorizer.transform(texts_test)

    def fit_score(c):
        model = _logreg(c, seed).fit(x_train, y_train)
        return model.predict_proba(x_val)[:, 1], model.predict_proba(x_test)[:, 1]

    _, c, val_scores, test_scores = _pick(fit_score, TFIDF_C, y_val)
    return val_scores, test_scores, {"C": c}


def gradient_boosting(x_train, y_train, x_val, y_val, x_test, seed: int = 0):
    """(val scores, test scores, chosen params) of histogram gradient boosting."""
    def fit_score(option):
        model = _gbm(option, seed).fit(x_train, y_train)
        return model.predict_proba(x_val)[:, 1], model.predict_proba(x_test)[:, 1]

    _, option, val_scores, test_scores = _pick(fit_score, GBM_OPTIONS, y_val)
    return val_scores, test_scores, {"learning_rate": option[0], "max_leaf_nodes": option[1]}


def _by_folds(fit, options, take, y: np.ndarray, folds: list[np.ndarray], test):
    """Few labels: the option whose pooled out-of-fold scores have the best PR-AUC, refitted
    on every row; (test scores, option, its out-of-fold PR-AUC, its out-of-fold scores).
    `test` None: only the out-of-fold scores are wanted, so nothing is refitted (scores None).

    `fit(option, inputs, labels)` returns a scorer of inputs; `take(rows)` the inputs of
    those row indices."""
    from sklearn.metrics import average_precision_score

    best = None
    everyone = np.arange(y.size)
    for option in options:
        out_of_fold = np.zeros(y.size)
        for fold in folds:
            rest = np.setdiff1d(everyone, fold)
            out_of_fold[fold] = fit(option, take(rest), y[rest])(take(fold))
        auc = float(average_precision_score(y, out_of_fold))
        if best is None or auc > best[1]:
            best = (option, auc, out_of_fold)
    option, auc, out_of_fold = best
    scores = None if test is None else fit(option, take(everyone), y)(test)
    return scores, option, round(auc, 4), out_of_fold


def tfidf_logreg_folds(texts: list[str], y, folds, texts_test, seed: int = 0,
                       out_of_fold: dict | None = None):
    """Few labels: (test scores, None without `texts_test`; params) of TF-IDF + LR with C
    chosen by cross-validation over `folds` (row indices of `texts`); its out-of-fold scores
    in `out_of_fold`."""
    def fit(c, inputs, labels):
        vectorizer = _vectorizer()
        model = _logreg(c, seed).fit(vectorizer.fit_transform(inputs), labels)
        return lambda part: model.predict_proba(vectorizer.transform(part))[:, 1]

    scores, c, auc, oof = _by_folds(fit, TFIDF_C, lambda rows: [texts[i] for i in rows], y,
                                    folds, None if texts_test is None else list(texts_test))
    if out_of_fold is not None:
        out_of_fold["tfidf_logreg"] = oof
    return scores, {"C": c, "out_of_fold_pr_auc": auc}


def gradient_boosting_folds(x: np.ndarray, y, folds, x_test, seed: int = 0,
                            out_of_fold: dict | None = None):
    """Few labels: (test scores, params) of gradient boosting chosen by cross-validation over
    `folds` (row indices of `x`); its out-of-fold scores in `out_of_fold`."""
    def fit(option, inputs, labels):
        model = _gbm(option, seed).fit(inputs, labels)
        return lambda part: model.predict_proba(part)[:, 1]

    options = [(*option, leaf) for option in GBM_OPTIONS for leaf in FEW_LABEL_MIN_LEAF]
    scores, option, auc, oof = _by_folds(fit, options, lambda rows: x[rows], y, folds,
                                         None if x_test is None else np.asarray(x_test))
    if out_of_fold is not None:
        out_of_fold["gbm_aggregates"] = oof
    return scores, {"learning_rate": option[0], "max_leaf_nodes": option[1],
                    "min_samples_leaf": option[2], "out_of_fold_pr_auc": auc}


def isolation_forest(x_fit, x_val, y_val, x_test, seed: int = 0):
    """(val scores, test scores, params) of an isolation forest fitted without labels."""
    from sklearn.ensemble import IsolationForest

    def fit_score(n):
        model = IsolationForest(n_estimators=n, random_state=seed).fit(x_fit)
        return -model.score_samples(x_val), -model.score_samples(x_test)

    _, n, val_scores, test_scores = _pick(fit_score, (200,), y_val)
    return val_scores, test_scores, {"n_estimators": n}


def usable_features(x_train: np.ndarray, columns: list[str]) -> tuple[np.ndarray, dict]:
    """Columns the aggregate peers can learn from: (their indices, {dropped name: why}).

    A column with no finite value in the training rows (every price NULL) or one value and no
    NULL (a constant) carries nothing and breaks some estimators' binning; it is dropped. One
    value with NULLs elsewhere is kept: whether the value is there can tell.
    """
    keep, dropped = [], {}
    for j, name in enumerate(columns):
        column = x_train[:, j]
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            dropped[name] = "all NULL"
        elif finite.size == column.size and np.ptp(finite) == 0:
            dropped[name] = "constant"
        else:
            keep.append(j)
    return np.array(keep, dtype=int), dropped


def impute(x_fit: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Non-finite values replaced by the fitting rows' median of their column (isolation
    forests take no NULLs); a column with no finite value becomes 0."""
    x_fit = np.where(np.isfinite(x_fit), x_fit, np.nan)
    with np.errstate(all="ignore"):
        medians = np.nanmedian(np.where(np.isnan(x_fit).all(axis=0), 0.0, x_fit), axis=0) \
            if x_fit.size else np.zeros(x_fit.shape[1])
    medians = np.nan_to_num(medians)
    return [np.where(np.isfinite(x), x, medians) for x in (x_fit, *others)]


def _aggregate_matrix(sessions, by_id: dict, rows) -> np.ndarray:
    """The aggregate columns of `rows`, NULL and non-finite values as NaN."""
    x = np.stack([by_id[str(sessions.ids[r])] for r in rows])
    return np.where(np.isfinite(x), x, np.nan)


def _log_dropped(log, dropped: dict) -> None:
    if dropped:
        log("  peers: aggregate columns left out: " + ", ".join(
            f"{name} ({why})" for name, why in dropped.items()))


def compare_peers(sessions, split, aggregates: tuple[dict, list], seed: int,
                  log=print, test_scores_out: dict | None = None) -> dict:
    """The classic detectors on the same split as the model, each with its own max-F1
    threshold on validation; test metrics per peer (`aggregates` from read_aggregates), and
    each peer's test scores in `test_scores_out` when given.

    Aggregate columns that are all NULL or constant on the training rows are dropped (and
    named in the result); with none left, the aggregate peers are reported as skipped."""
    from training.calibrate import max_f1
    from training.metrics import evaluate_scores

    labels = sessions.labels
    families = sessions.families
    out = {}

    def record(name, val_scores, test_scores, **extra):
        threshold, _ = max_f1(labels[split.val], val_scores)
        metrics = evaluate_scores(
            labels[split.test], test_scores, threshold,
            families[split.test] if families is not None else None, curve=False)
        out[name] = {**metrics, **extra}
        if test_scores_out is not None:
            test_scores_out[name] = np.asarray(test_scores, dtype=np.float64)

    def texts(rows):
        return [sessions.texts[r] for r in rows]

    val_scores, test_scores, params = tfidf_logreg(
        texts(split.train), labels[split.train], texts(split.val), labels[split.val],
        texts(split.test), seed)
    record("tfidf_logreg", val_scores, test_scores, params=params)
    by_id, columns = aggregates
    if columns:
        x_train, x_val, x_test = (_aggregate_matrix(sessions, by_id, part)
                                  for part in (split.train, split.val, split.test))
        keep, dropped = usable_features(x_train, columns)
        _log_dropped(log, dropped)
        if keep.size == 0:
            reason = "no aggregate column with more than one value"
            out["gbm_aggregates"] = {"skipped": reason, "dropped_features": dropped}
            out["isolation_forest_aggregates"] = {"skipped": reason}
            return out
        features = [columns[j] for j in keep]
        x_train, x_val, x_test = x_train[:, keep], x_val[:, keep], x_test[:, keep]
        val_scores, test_scores, params = gradient_boosting(
            x_train, labels[split.train], x_val, labels[split.val], x_test, seed)
        record("gbm_aggregates", val_scores, test_scores, params=params, features=features,
               dropped_features=dropped)
        x_fit, x_val, x_test = impute(np.concatenate([x_train, x_val]), x_val, x_test)
        val_scores, test_scores, params = isolation_forest(x_fit, x_val, labels[split.val],
                                                           x_test, seed)
        record("isolation_forest_aggregates", val_scores, test_scores, params=params)
    return out


def compare_peers_by_folds(sessions, rows: np.ndarray, folds: list[np.ndarray],
                           aggregates: tuple[dict, list], seed: int, log=print) -> dict:
    """Few labels: TF-IDF + LR and gradient boosting cross-validated over the model's own
    user `folds` (indices into `rows`); {name: out-of-fold scores aligned with `rows`}, so
    the model's out-of-fold scores can be set against theirs user by user."""
    labels = sessions.labels[rows]
    out: dict = {}
    texts = [sessions.texts[r] for r in rows]
    tfidf_logreg_folds(texts, labels, folds, None, seed, out_of_fold=out)
    by_id, columns = aggregates
    if columns:
        x = _aggregate_matrix(sessions, by_id, rows)
        keep, dropped = usable_features(x, columns)
        _log_dropped(log, dropped)
        if keep.size:
            gradient_boosting_folds(x[:, keep], labels, folds, None, seed, out_of_fold=out)
    return out
