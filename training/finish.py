"""The end of a training run: threshold, test metrics, the optional steps, save, record.

Order: the threshold is chosen on validation and the test split scored once; then the
optional steps that go into the artifact (peers; the decision check, on the hidden
artifact just before its rename: training/precision.py); then the artifact is saved (atomic
rename); then its drift baselines (optional); then the catalogue row that makes
it current. An optional step that fails is a warning naming the step (training.optional):
its output is left out and the model is still saved and recorded.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np

from training.calibrate import choose_threshold
from training.metrics import evaluate_scores
from training.optional import (
    DEVICE_CHECK,
    DRIFT_BASELINES,
    PEERS,
    PRECISION_CHECK,
    OptionalSteps,
)
from training.result import TrainResult
from training.splits import split_record
from training.threads import single_thread


def models_dir(cfg) -> Path:
    return Path(cfg.models_dir) if cfg.models_dir else Path(cfg.db_path).resolve().parent / \
        "models"


def remove_stale_temp(directory: Path) -> None:
    """Half-written artifacts of killed runs are hidden `.NAME.tmp-*` dirs; sweep them."""
    if directory.exists():
        for path in directory.glob(".*.tmp-*"):
            shutil.rmtree(path, ignore_errors=True)


def finish_run(run, model, mode, plan, val_scores, test_scores, val_texts, keep=True,
               labelled=True) -> TrainResult:
    """Calibrate, evaluate, run the optional steps, save and record `model` of `run`."""
    from training.baselines import score_baselines
    from training.bootstrap import RIVALS, lead_over_best_peer
    from training.peers import compare_peers
    from training.precision import decision_check, device_checks
    from training.record import record_model
    from udf.artifact import new_version, save_model
    from udf.embedding_store import encoder_key

    cfg = run.cfg
    sessions = run.sessions
    optional = OptionalSteps(run.log)
    if labelled:
        val_labels = sessions.labels[run.split.val]
        threshold, policy = choose_threshold(cfg, val_labels, val_scores)
        families = sessions.families
        validation = evaluate_scores(val_labels, val_scores, threshold, curve=False)
        test = evaluate_scores(sessions.labels[run.split.test], test_scores, threshold,
                               families[run.split.test] if families is not None else None) \
            if run.split.test.size else {}
    else:
        threshold, policy = choose_threshold(cfg, None, val_scores)
        validation, test = {}, {}
    peers, lead = {}, {}
    if labelled and cfg.compare_peers and run.split.test.size:
        def fit_peers():
            peer_scores = {}
            with single_thread():
                found = compare_peers(sessions, run.split, run.aggregates, cfg.seed,
                                      log=run.log, test_scores_out=peer_scores)
            test_rows = run.split.test
            return found, lead_over_best_peer(
                sessions.labels[test_rows], sessions.groups[test_rows], test_scores,
                {k: v for k, v in peer_scores.items() if k in RIVALS}, cfg.seed)

        peers, lead = optional.run(PEERS, fit_peers, ({}, {}))
    elif labelled and cfg.compare_peers and run.fold_peers is not None:
        peers, lead = optional.run(PEERS, run.fold_peers, ({}, {}))
    version = new_version()
    directory = models_dir(cfg)
    remove_stale_temp(directory / cfg.name)
    path = directory / cfg.name / version
    meta = {
        "name": cfg.name, "version": version, "base_model": run.base_name,
        "training_mode": mode, "text_format": run.text_format(),
        "threshold": float(threshold), "threshold_policy": policy,
        "metrics": {"test": test, "validation": validation, "peers": peers,
                    "peer_lead": lead},
        "served": run.served_block(model, mode), "evaluation": run.evaluation,
        "head_params": run.head_params, "lexical_params": run.lexical_params,
        "history": run.history,
        "training_table": cfg.table, "training_fingerprint": sessions.fingerprint,
        "n_train": int(run.split.train.size) if labelled else len(sessions),
        "split_sizes": run.split.sizes() if labelled else {},
        "split": split_record(run.split, sessions, cfg, cross_validated=run.evaluation.get(
            "method") == "cross-validation") if labelled else {},
        "plan": plan, "plan_estimate": getattr(run, "plan_record", {}),
        "config": cfg.to_dict(),
        "skipped_steps": optional.skipped,
    }
    meta["encoder_key"] = encoder_key(model)
    meta["embedding_store"] = os.path.relpath(directory / ".embeddings", path)
    check_labels = sessions.labels[run.split.val] if labelled else None

    def finalize(tmp_dir):
        # The decision check runs on the hidden artifact through the runtime's own paths;
        # the ONNX encoders it exports there ship with the artifact.
        check = optional.run(PRECISION_CHECK, lambda: decision_check(
            tmp_dir, val_texts, check_labels, threshold, cfg.seed, log=run.log), {})
        optional.run(DEVICE_CHECK, lambda: device_checks(
            tmp_dir, run.device, val_texts, check_labels, threshold, cfg.seed, log=run.log),
            None)
        return {"precision_check": check}

    save_model(model, path, meta, base_dir=run.base_dir, finalize=finalize)
    # a fine-tuned encoder has no stored embeddings: the validation and test scores this run
    # already has stand in for encoding the table again
    known = np.concatenate([val_scores, test_scores]) \
        if meta["served"]["encoder"] == "fine-tuned" else None
    baselines = optional.run(
        DRIFT_BASELINES, lambda: score_baselines(
            path, sessions.texts, run.lengths, run.device, cfg.seed, run.log,
            scores=known), {})
    # the catalogue row carries every skipped step, the baselines' too
    meta["metrics"]["skipped_steps"] = optional.skipped
    record_model(cfg.db_path, meta, path, keep, baselines)
    seconds = time.monotonic() - run.started
    return TrainResult(cfg.name, version, str(path), mode, keep, float(threshold), policy,
                       test, validation, peers, plan, seconds,
                       int(sessions.labelled.size),
                       run.split.sizes() if labelled else {},
                       "" if keep else "the retrained model was worse on validation; "
                       "the current model stays current",
                       timings={**run.timings, "total": round(seconds, 2)},
                       skipped=optional.skipped, served=meta["served"]["description"],
                       evaluation=run.evaluation["note"], peer_lead=lead)
