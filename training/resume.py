"""`duckbert train --resume`: warm-start from the current model with the labels since."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from training.labelled import TrainingDataError
from training.result import TrainResult
from training.splits import Split, check_split, make_split, trained_on
from training.threads import single_thread


def new_labels(sessions, since: str | None) -> int:
    """Labels that arrived after `since` (an ISO time); -1 when that cannot be told."""
    if sessions.labelled_at is None or since is None:
        return -1
    cutoff = np.datetime64(since.replace("+00:00", ""))
    stamps = sessions.labelled_at[sessions.labels >= 0]
    return int((stamps > cutoff).sum())


def unseen_evaluation_split(run, meta: dict) -> Split:
    """The split of this run, with every validation/test row the current model may have
    trained on moved to train: the comparison below is then on rows neither model saw."""
    record = meta.get("split")
    if not record:
        run.log("  the current model records no split (trained by an older duckbert): its "
                "training users are re-derived from the seed")
    sessions, created = run.sessions, meta.get("created_at")
    everyone = sessions.labelled
    seen_users = set(sessions.groups[everyone[trained_on(sessions, everyone, record, run.cfg,
                                                         created)]])
    split = make_split(sessions, run.cfg, frozen=seen_users)

    def seen_rows(rows):
        if run.cfg.split == "time":  # its training period's rows, not whole users
            return rows[trained_on(sessions, rows, record, run.cfg, created)]
        return rows[np.isin(sessions.groups[rows], list(seen_users))]

    seen = {name: seen_rows(getattr(split, name)) for name in ("val", "test")}
    n_seen = sum(rows.size for rows in seen.values())
    if n_seen:
        run.log(f"  {n_seen} validation/test rows the current model trained on go to train")
        split = Split(np.sort(np.concatenate([split.train, *seen.values()])),
                      np.setdiff1d(split.val, seen["val"]),
                      np.setdiff1d(split.test, seen["test"]), moved=split.moved)
        check_split(run.sessions, split, run.cfg)
    return split


def resume(run) -> TrainResult:
    """Retrain the current model's head on the labels that arrived since it was trained.

    The split is the current model's (same seed, users by their own hash), less every row
    the current model trained on (unseen_evaluation_split); the result becomes current only
    if its validation PR-AUC is no worse than the current model's on the same rows.
    """
    from training.head_trainer import HeadParams, fit_head, head_scores
    from udf.artifact import load_model
    from udf.heads import ClassifierHead

    if run.current is None:
        raise TrainingDataError("--resume needs a current model; train one without "
                                "--resume first")
    model, meta = load_model(run.current.path)
    arrived = new_labels(run.sessions, meta.get("created_at"))
    if arrived == 0 or meta.get("training_fingerprint") == run.sessions.fingerprint:
        note = (f"no labels arrived since {run.current.label}; nothing to retrain")
        run.log(note)
        return TrainResult(meta["name"], meta["version"], run.current.path,
                           meta["training_mode"], False, float(meta["threshold"]),
                           meta.get("threshold_policy", ""), {}, {}, note=note,
                           retrained=False)
    run.log(f"resuming from {run.current.label}: {max(arrived, 0)} labels arrived since")
    run.base_dir = Path(run.current.path)
    run.base_name = meta["base_model"]
    run.cfg.seed = int(meta.get("config", {}).get("seed", run.cfg.seed))
    run.split = unseen_evaluation_split(run, meta)
    warm = isinstance(model.head, ClassifierHead)
    if model.hasher is None:
        from udf.lexical import NgramHasher

        model.hasher = NgramHasher(run.cfg.ngram_buckets)
    ids, local, idf, data = run.prepare_head_inputs(model)
    old_val = head_scores(model.head, data["val"]) if warm else None
    params = HeadParams(**meta.get("head_params", {})) if warm else HeadParams()
    params = HeadParams(**{**asdict(params), "lr": params.lr / 3})
    stored = meta.get("lexical_params") or {}
    choices = [(stored["C"], stored["class_weight"])] if "C" in stored else None
    with single_thread():
        lexical_fit = run.fit_lexical(model, data, idf, choices) if params.lexical \
            else None
        if lexical_fit is None:
            run.lexical_params = {}
        result = fit_head(params, data["train"], data["val"], model.hidden_size,
                          lexical_fit, max(10, run.cfg.head_epochs // 4),
                          run.cfg.seed, init=model.head if warm else None)
    from sklearn.metrics import average_precision_score

    old_auc = (average_precision_score(data["val"].labels, old_val) if warm else -1.0)
    if warm:
        run.log(f"  validation PR-AUC: current {old_auc:.4f}, retrained "
                 f"{result.val_pr_auc:.4f}")
    else:
        run.log(f"  the current model is {meta['training_mode']}; trained a supervised "
                 f"head on its encoder (validation PR-AUC {result.val_pr_auc:.4f})")
    model.head = result.head
    run.head_params = asdict(result.params)
    run.history = {"resumed_from": run.current.version, "previous_val_pr_auc": old_auc}
    keep = result.val_pr_auc >= old_auc - 1e-9
    mode = meta["training_mode"] if warm else "head"
    return run.finish(model, mode, f"--resume from "
                        f"{run.current.label}", result.val_scores,
                        head_scores(model.head, data["test"]),
                        run.texts(local["val"]), keep=keep)
