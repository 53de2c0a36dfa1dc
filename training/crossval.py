"""Few labels: choose and calibrate the head by cross-validation grouped by user.

When the labels are too few for a train / validation / test split (a fresh run needs
`min_anomalies_for_split` anomalous labels in all, and each part `min_rows_per_split` rows of
each class), training does not refuse: the labelled users are
dealt into k folds (k = 5, or fewer when fewer users have an anomaly), every candidate head
(and the lexical term's C) is scored on each fold by a model fitted on the other folds, and
the out-of-fold scores choose the candidate and the threshold. The model that ships is then
refitted on every labelled row. The encoder stays frozen: with this few labels, fine-tuning
has nothing to learn from that a head does not.

A handful of anomalous users cannot tell close candidates apart, so the choice starts from
a stated default (the linear head with the lexical term when there is one: word n-grams
need the fewest labels; else the simplest candidate) and moves to the best out-of-fold
candidate only when its lead is evidence: the 95% interval of the paired PR-AUC difference
over bootstrap resamples of users lies above zero. Both figures are logged and kept
(`history.selection`). On the benchmark's 2% row (4 anomalous sessions) the best candidate
led the default by 0.02 on out-of-fold PR-AUC, a ranking of four positives.

There is no held-out test split, so the run reports the out-of-fold metrics of the chosen
candidate as its estimate and says so (duckbert.json `evaluation`); they are slightly
optimistic, since the same out-of-fold scores chose that candidate among a few.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np

from training.labelled import TrainingDataError
from training.splits import Split, user_folds

MAX_FOLDS = 5
MIN_FOLDS = 2
BOOTSTRAP = 1000  # resamples of users for the paired interval of a lead over the default


def choose_folds(groups: np.ndarray, labels: np.ndarray, seed: int,
                 reason: str) -> list[np.ndarray]:
    """User folds whose training parts each hold at least 2 rows of each class."""
    anomalous_users = len({g for g, y in zip(groups, labels, strict=True) if y == 1})
    normal_users = len(set(groups.tolist())) - anomalous_users
    k = min(MAX_FOLDS, anomalous_users, max(normal_users, 1))
    folds = user_folds(groups, labels, k, seed) if k >= MIN_FOLDS else []
    fit_ok = all(min(int((np.delete(labels, f) == c).sum()) for c in (0, 1)) >= 2
                 for f in folds)
    if len(folds) < MIN_FOLDS or not fit_ok:
        raise TrainingDataError(
            f"{reason}; cross-validation by user needs at least 3 users with an anomalous "
            f"session and 3 without (have {anomalous_users} and {normal_users}). Label more "
            "sessions, or use --mode unsupervised")
    return folds


def _data(run, model, pooled, rows, idf):
    import torch

    from training.head_trainer import HeadData

    texts = [run.sessions.texts[run.sessions.labelled[i]] for i in rows]
    return HeadData(torch.from_numpy(pooled[rows]), model.hasher.bags(texts, idf),
                    run.sessions.labels[run.sessions.labelled[rows]])


def _idf(model, run, rows):
    texts = [run.sessions.texts[run.sessions.labelled[i]] for i in rows]
    return model.hasher.idf(model.hasher.document_frequency(texts), len(rows))


def _choose_lexical(model, folds_data, labels_oof_order, seed):
    """(C, class_weight) of the n-gram logistic regression with the best out-of-fold PR-AUC."""
    from training.head_trainer import LEXICAL_C, _logreg, _pr_auc

    best = None
    for c, weight in [(c, w) for c in LEXICAL_C for w in (None, "balanced")]:
        scores = np.concatenate([
            _logreg(c, weight, seed).fit(train.matrix(model.hasher.size), train.labels)
            .decision_function(held.matrix(model.hasher.size))
            for train, held in folds_data])
        auc = _pr_auc(labels_oof_order, scores)
        if best is None or auc > best[0]:
            best = (auc, c, weight)
    return best


def lead_interval(labels: np.ndarray, scores: np.ndarray, default: np.ndarray,
                  groups: np.ndarray, seed: int, n: int = BOOTSTRAP) -> tuple[float, float]:
    """95% interval of PR-AUC(scores) - PR-AUC(default) over bootstrap resamples of users."""
    from training.head_trainer import _pr_auc

    rng = np.random.default_rng(seed)
    users, inverse = np.unique(groups, return_inverse=True)
    diffs = []
    for _ in range(n):
        counts = np.bincount(rng.integers(0, users.size, users.size), minlength=users.size)
        rows = np.repeat(np.arange(labels.size), counts[inverse])
        y = labels[rows]
        if y.min() != y.max():
            diffs.append(_pr_auc(y, scores[rows]) - _pr_auc(y, default[rows]))
    if not diffs:
        return 0.0, 0.0
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(lo), float(hi)


def _select(trials, labels, groups, seed, log):
    """The default candidate unless the best one's lead over it is evidence (see above)."""
    from training.head_trainer import describe

    default = next((t for t in trials if t[1].lexical and t[1].hidden_units == 0), trials[0])
    best = max(trials, key=lambda t: t[0])
    record = {"default": describe(default[1]), "best": describe(best[1]),
              "default_oof_pr_auc": round(default[0], 4), "best_oof_pr_auc": round(best[0], 4)}
    if best[0] <= default[0]:
        return default, {**record, "chosen": "default"}
    lo, hi = lead_interval(labels, best[2], default[2], groups, seed)
    record["lead_interval"] = [round(lo, 4), round(hi, 4)]
    if lo > 0:
        return best, {**record, "chosen": "best"}
    log(f"  {describe(best[1])} leads the default {describe(default[1])} by "
        f"{best[0] - default[0]:+.4f} out-of-fold, paired 95% interval over users "
        f"[{lo:+.4f}, {hi:+.4f}] includes 0: keeping the default")
    return default, {**record, "chosen": "default"}


def few_label_run(run, reason: str):
    """Train, select and calibrate by grouped cross-validation; returns the TrainResult."""
    from training.head_trainer import _pr_auc, candidate_grid, describe, fit_head, fit_lexical
    from training.threads import single_thread

    cfg, sessions = run.cfg, run.sessions
    labelled = sessions.labelled
    labels = sessions.labels[labelled]
    folds = choose_folds(sessions.groups[labelled], labels, cfg.seed, reason)
    k = len(folds)
    run.log(f"too few labels for a three-way split ({reason.split(':')[0]}); choosing and "
            f"calibrating by {k}-fold cross-validation grouped by user over {labelled.size} "
            f"labelled sessions ({int(labels.sum())} anomalous)")
    model = run._base_model()
    run.labelled = labelled
    _, pooled = run._features(model, labelled)
    order = np.concatenate(folds)
    oof_labels = labels[order]
    started = time.monotonic()
    with single_thread():
        fold_data, fold_idf = [], []
        for f in range(k):
            train_rows = np.concatenate([folds[j] for j in range(k) if j != f])
            idf = _idf(model, run, train_rows)
            fold_idf.append(idf)
            fold_data.append((_data(run, model, pooled, train_rows, idf),
                              _data(run, model, pooled, folds[f], idf)))
        lexical_choice = None
        run.lexical_params = {}
        if cfg.lexical is not False:
            auc, c, weight = _choose_lexical(model, fold_data, oof_labels, cfg.seed)
            lexical_choice = (c, weight)
            run.lexical_params = {"C": c, "class_weight": weight, "oof_pr_auc": round(auc, 4)}
            run.log(f"  lexical n-gram logistic regression: C={c:g} class_weight={weight} "
                    f"out-of-fold PR-AUC {auc:.4f}")
        fold_lexical = [fit_lexical(tr, va, model.hasher.size, tr_idf, cfg.seed,
                                    choices=[lexical_choice], log=lambda *_: None)
                        if lexical_choice else None
                        for (tr, va), tr_idf in zip(fold_data, fold_idf, strict=True)]
        trials, scored = [], []

        candidates = candidate_grid(cfg.lexical if lexical_choice else False,
                                    cfg.head_hidden_units)
        # simpler candidates first; a later one must beat them strictly
        candidates.sort(key=lambda p: (p.lexical, p.hidden_units))
        for params in candidates:
            oof = np.concatenate([
                fit_head(params, tr, va, model.hidden_size, lex, cfg.head_epochs,
                         cfg.seed).val_scores
                for (tr, va), lex in zip(fold_data, fold_lexical, strict=True)])
            auc = _pr_auc(oof_labels, oof)
            trials.append({**asdict(params), "oof_pr_auc": round(auc, 4)})
            run.log(f"  head {describe(params)}: out-of-fold PR-AUC {auc:.4f}")
            scored.append((auc, params, oof))
        (auc, params, oof), selection = _select(
            scored, oof_labels, sessions.groups[labelled][order], cfg.seed, run.log)
        # the model that ships: the chosen candidate refitted on every labelled row
        every = np.arange(labelled.size)
        idf = _idf(model, run, every)
        everything = _data(run, model, pooled, every, idf)
        mirror = _data(run, model, pooled, every, idf)
        lexical_fit = fit_lexical(everything, mirror, model.hasher.size, idf, cfg.seed,
                                  choices=[lexical_choice], log=lambda *_: None) \
            if lexical_choice and params.lexical else None
        model.head = fit_head(params, everything, mirror, model.hidden_size, lexical_fit,
                              cfg.head_epochs, cfg.seed).head
    run.timings["head"] = round(time.monotonic() - started, 2)
    run.log(f"  chosen: {describe(params)} (out-of-fold PR-AUC {auc:.4f}); refitted on all "
            f"{labelled.size} labelled sessions")
    run.head_params = asdict(params)
    if run.lexical_params:
        run.lexical_params["in_head"] = model.head.lexical is not None
    run.history = {"head_trials": trials, "folds": [int(f.size) for f in folds],
                   "selection": selection}
    # finish() reads validation as "the rows the threshold is chosen on": here, the
    # out-of-fold scores of every labelled row; there is no test split
    run.split = Split(labelled[order], labelled[order], labelled[:0])
    run.evaluation = {
        "method": "cross-validation", "folds": k, "grouped_by": "user",
        "note": (f"too few labels for a three-way split: candidate, lexical C and threshold "
                 f"chosen on out-of-fold scores of {k} folds by user; the model was "
                 "refitted on every labelled row; no held-out test split, the metrics are "
                 "out-of-fold (slightly optimistic: they also chose the candidate)")}
    if cfg.compare_peers:
        run.fold_peers = lambda: _peers_out_of_fold(run, folds, order, oof)
    texts = [sessions.texts[i] for i in run.split.val]
    return run.finish(model, "head", f"few labels: frozen encoder, head chosen by {k}-fold "
                      "cross-validation by user", oof, None, texts)


def _peers_out_of_fold(run, folds, order, oof) -> tuple[dict, dict]:
    """(peer metrics, lead) of TF-IDF + LR and gradient boosting cross-validated on the same
    user folds, set against the model's out-of-fold scores user by user."""
    from training.bootstrap import RIVALS, lead_over_best_peer
    from training.calibrate import max_f1
    from training.metrics import evaluate_scores
    from training.peers import compare_peers_by_folds
    from training.threads import single_thread

    sessions, labelled = run.sessions, run.sessions.labelled
    with single_thread():
        found = compare_peers_by_folds(sessions, labelled, folds, run.aggregates,
                                       run.cfg.seed, log=run.log)
    labels = sessions.labels[labelled][order]
    peers, scores = {}, {}
    for name, out_of_fold in found.items():
        scores[name] = np.asarray(out_of_fold, dtype=np.float64)[order]
        peers[name] = {**evaluate_scores(labels, scores[name], max_f1(labels, scores[name])[0],
                                         curve=False), "scored_on": "out-of-fold"}
    lead = lead_over_best_peer(labels, sessions.groups[labelled][order], oof,
                               {k: v for k, v in scores.items() if k in RIVALS}, run.cfg.seed)
    return peers, {**lead, "scored_on": "out-of-fold"} if lead else {}
