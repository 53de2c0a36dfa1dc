"""The contenders of a benchmark row, each trained on the same table and scored on the same
test sessions: duckbert as `duckbert train` ships it (mode auto), the seed document's recipe
(frozen encoder, one fully connected head, BCE, no lexical term), optional other modes, and
the peers — TF-IDF + logistic regression on the same session text, gradient boosting on the
session aggregates — fitted on the very train/validation split the duckbert run made.

duckbert's test scores come from the artifact through the runtime (`udf.scorer.Scorer` at
fp32), as `anomaly_score()` would give them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from training.config import RECIPES

DEFAULT = "duckbert"
SEED_RECIPE = "seed recipe"
# TrainConfig overrides of the seed document's recipe (`duckbert train --recipe seed`): a
# frozen encoder (head mode), one fully connected layer, no lexical n-gram term.
SEED_RECIPE_OVERRIDES = dict(RECIPES["seed"])
PEERS = ("tfidf_logreg", "gbm_aggregates")


@dataclass
class Contender:
    """One model of a row: its test scores per test set, or why it has none."""

    name: str
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    refused: str | None = None
    info: dict = field(default_factory=dict)


def contenders(modes) -> dict[str, dict]:
    """{name: TrainConfig overrides} of the duckbert contenders, default and seed first."""
    out = {DEFAULT: {}, SEED_RECIPE: dict(SEED_RECIPE_OVERRIDES)}
    for mode in modes:
        if mode != "auto":
            out[f"duckbert {mode}"] = {"mode": mode}
    return out


def train_config(db, table: str, name: str, run, overrides: dict):
    """The TrainConfig of one contender: the product's defaults, the run's sizes."""
    from training.config import TrainConfig

    options = {"db_path": str(db), "table": table, "name": name, "seed": run.seed,
               "models_dir": str(run.models_dir), "device": run.device,
               "base_model": run.base_model, "compare_peers": False, "progress": False}
    if run.time_budget_s is not None:
        options["time_budget_s"] = run.time_budget_s
    return TrainConfig(**{**options, **run.overrides, **overrides})


def train_duckbert(frame, table: str, name: str, overrides: dict, test_sets: dict, run,
                   log) -> Contender:
    """Train one duckbert contender on `table` and score every test set with its artifact."""
    from training.labelled import TrainingDataError
    from training.trainer import train

    cfg = train_config(frame.db, table, f"bench-{name.replace(' ', '-')}-{table}", run,
                       overrides)
    started = time.monotonic()
    try:
        result = train(cfg, log=lambda line: log("    " + line))
    except TrainingDataError as exc:
        log(f"    refused: {exc}")
        return Contender(name, refused=str(exc))
    seconds = time.monotonic() - started
    info = {"trained_as": result.mode, "plan": result.plan, "seconds": round(seconds, 1),
            "validation_pr_auc": result.validation.get("pr_auc"),
            "labelled_sessions": result.n_labelled, "split": result.split_sizes}
    scores = score_with_artifact(result.path, {k: [frame.texts[i] for i in rows]
                                               for k, rows in test_sets.items()}, run.device)
    return Contender(name, scores=scores, info=info)


def score_with_artifact(path, texts_by_set: dict[str, list[str]], device) -> dict:
    """Scores of each text list through the runtime scorer at fp32; the frozen encoder's
    vectors are first put in the artifact's embedding store, so models sharing an encoder
    encode each test text once."""
    from training.embeddings import embed_texts
    from udf.scorer import Scorer

    scorer = Scorer(path, device=device, precision="fp32", use_store=True)
    every = [t for texts in texts_by_set.values() for t in texts]
    where = scorer.meta.get("embedding_store")
    if where and every:
        embed_texts(scorer.model, every, scorer.model.tokenizer.ids(every), scorer.device,
                    (scorer.model_dir / where).resolve(), progress=False)
    out = {k: np.asarray(scorer.score(texts), dtype=np.float64)
           for k, texts in texts_by_set.items()}
    del scorer
    return out


@dataclass
class PeerSplit:
    """Where the peers learn: train/validation rows (frame indices) of the duckbert run's
    split, or, with too few labels for it, every labelled row and its user folds."""

    train: np.ndarray
    val: np.ndarray
    how: str
    folds: list[np.ndarray] | None = None  # indices into `train`


def _peer_split(frame, table: str, run) -> PeerSplit:
    """The duckbert run's split of `table`; when the labels are too few for its three-way
    split, the folds by user that its cross-validation uses (training.crossval)."""
    from training.crossval import choose_folds
    from training.labelled import TrainingDataError, open_warehouse, read_sessions
    from training.splits import make_split

    cfg = train_config(frame.db, table, "peers", run, {})
    con = open_warehouse(str(frame.db), read_only=True)
    try:
        sessions = read_sessions(con, cfg)
    finally:
        con.close()
    position = {sid: i for i, sid in enumerate(frame.ids)}
    to_frame = np.array([position[sid] for sid in sessions.ids])
    try:
        split = make_split(sessions, cfg, fresh=True)
        return PeerSplit(to_frame[split.train], to_frame[split.val], "the duckbert run's split")
    except TrainingDataError as exc:
        rows = sessions.labelled
        folds = choose_folds(sessions.groups[rows], sessions.labels[rows], cfg.seed, str(exc))
        return PeerSplit(to_frame[rows], np.array([], dtype=int),
                         f"cross-validation over {len(folds)} folds by user (too few labels "
                         "for duckbert's three-way split; the same folds as its own)", folds)


def _fit_peer(name: str, frame, split: PeerSplit, test_rows, aggregates: dict, seed: int):
    """(test scores, chosen params) of one peer on `split`."""
    from training.peers import (
        gradient_boosting,
        gradient_boosting_folds,
        tfidf_logreg,
        tfidf_logreg_folds,
    )

    y_train, y_val = frame.labels[split.train], frame.labels[split.val]
    if name == "tfidf_logreg":
        def texts(rows):
            return [frame.texts[i] for i in rows]

        if split.folds:
            return tfidf_logreg_folds(texts(split.train), y_train, split.folds,
                                      texts(test_rows), seed)
        _, test_scores, params = tfidf_logreg(texts(split.train), y_train, texts(split.val),
                                              y_val, texts(test_rows), seed)
        return test_scores, params

    def matrix(rows):
        return np.stack([aggregates[str(frame.ids[i])] for i in rows])

    if split.folds:
        return gradient_boosting_folds(matrix(split.train), y_train, split.folds,
                                       matrix(test_rows), seed)
    _, test_scores, params = gradient_boosting(matrix(split.train), y_train,
                                               matrix(split.val), y_val, matrix(test_rows), seed)
    return test_scores, params


def fit_peers(frame, table: str, test_sets: dict, aggregates: dict, run, log) -> list:
    """TF-IDF + LR and gradient boosting on the duckbert run's train/validation rows (or its
    user folds, with few labels)."""
    from training.labelled import TrainingDataError

    try:
        split = _peer_split(frame, table, run)
    except TrainingDataError as exc:
        return [Contender(name, refused=str(exc)) for name in PEERS]
    names = list(test_sets)
    test_rows = np.concatenate([test_sets[k] for k in names])
    bounds = np.cumsum([0] + [len(test_sets[k]) for k in names])
    fitted = [frame.labels[split.train]] + ([] if split.folds else [frame.labels[split.val]])
    if min(min(y.sum(), (1 - y).sum()) for y in fitted) < 1:
        return [Contender(name, refused="no anomalous or no normal labels to fit on")
                for name in PEERS]
    out = []
    for name in PEERS:
        started = time.monotonic()
        test_scores, params = _fit_peer(name, frame, split, test_rows, aggregates, run.seed)
        info = {"params": params, "split": split.how,
                "seconds": round(time.monotonic() - started, 1)}
        out.append(Contender(name, info=info, scores={
            k: np.asarray(test_scores[bounds[i]:bounds[i + 1]], dtype=np.float64)
            for i, k in enumerate(names)}))
    log(f"    peers fitted on {split.how}")
    return out


def read_peer_aggregates(db) -> dict:
    """id -> numeric session aggregates of training_sessions (the gradient boosting input)."""
    from training.peers import read_aggregates
    from udf.connect import connect_warehouse

    con = connect_warehouse(db, read_only=True)
    try:
        _, by_id = read_aggregates(con, "training_sessions", "session_id",
                                   {"is_anomaly", "session_id"})
    finally:
        con.close()
    return by_id
