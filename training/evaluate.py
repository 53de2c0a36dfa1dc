"""Re-evaluate a saved model on a labelled table: the same metrics training reports."""

from __future__ import annotations

import numpy as np

from training.labelled import TrainingDataError, check_labels, open_warehouse, read_sessions
from training.metrics import evaluate_scores


def evaluate_model(cfg, model: str, split: str | None = None) -> dict:
    """Score the labelled rows of `cfg.table` with `model` (name, name@version or path).

    split=None uses every labelled row; "test"/"val" re-derive the model's own split (same
    seed) so the figures match what training reported.
    """
    from udf.resolve import resolve_binding
    from udf.scorer import get_scorer

    con = open_warehouse(cfg.db_path, read_only=True)
    try:
        binding = resolve_binding(con, model)
        sessions = read_sessions(con, cfg)
    finally:
        con.close()
    check_labels(sessions.labels, cfg.table)
    scorer = get_scorer(binding.default_dir(), device=cfg.device)
    rows = sessions.labelled
    if split is not None:
        from training.splits import CROSS_VALIDATION, make_split

        record = scorer.meta.get("split") or {}
        if record.get("method") == CROSS_VALIDATION:
            raise TrainingDataError(
                f"{scorer.meta['name']}@{scorer.version} was chosen by cross-validation and "
                f"refitted on every labelled row: it has no {split} split of its own. Its "
                "out-of-fold metrics are in its model card; evaluate it with --split all on a "
                "table of labels it did not train on")
        cfg.seed = int(scorer.meta.get("config", {}).get("seed", cfg.seed))
        pinned = record.get("moved")
        rows = getattr(make_split(sessions, cfg, pinned=pinned), split)
    scores = np.array(scorer.score([sessions.texts[r] for r in rows]), dtype=np.float64)
    families = sessions.families[rows] if sessions.families is not None else None
    metrics = evaluate_scores(sessions.labels[rows], scores, scorer.threshold, families,
                              curve=False)
    metrics["model"] = f"{scorer.meta['name']}@{scorer.version}"
    metrics["rows"] = split or "all labelled"
    metrics["precision_used"] = scorer.precision
    return metrics
