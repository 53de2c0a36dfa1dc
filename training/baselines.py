"""Drift baselines: what a model's scores and the sessions looked like when it was trained.

At the end of a run, decile bins of the new model's scores on (a sample of) the table's
sessions, of `n_events` and of `length(session_text)` go to `duckbert_model_baselines`, one
row per model version, metric and bin. The dbt test `duckbert_drift` (macros/drift.sql)
compares the warehouse now with these bins by population stability index.
"""

from __future__ import annotations

import numpy as np

BASELINE_TABLE = "duckbert_model_baselines"
BASELINE_BINS = 10
BASELINE_SAMPLE = 5000  # sessions scored for the score baseline (all of them when fewer)
BASELINE_DDL = f"""
create table if not exists {BASELINE_TABLE} (
    version varchar not null,
    metric varchar not null,
    bin integer not null,
    lower_bound double,
    upper_bound double,
    reference_count bigint not null,
    reference_share double not null,
    n_reference bigint not null,
    created_at timestamptz not null,
    primary key (version, metric, bin)
)
"""


def reference_bins(values) -> list[tuple[float | None, float | None, int]]:
    """Decile bins of training-time values as (lower, upper, count), lower <= x < upper.

    Edges are the deciles, deduplicated (a discrete or tied distribution gets fewer bins);
    the first bin is open below and the last open above (None), so any later value has a bin.
    No finite value gives no bins; one value gives one bin; one value with rare others (9 in
    10 sessions the same) still gets two, so a move away from that value shows as drift.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    # deciles taken from the data (method "lower"), so every bin holds at least one value
    edges = np.unique(np.quantile(values, np.arange(1, BASELINE_BINS) / BASELINE_BINS,
                                  method="lower"))
    edges = edges[edges > values.min()]
    above = values[values > values.min()]
    if edges.size == 0 and above.size:  # one value with rare others: still two bins
        edges = np.array([above.min()])
    counts = np.bincount(np.searchsorted(edges, values, side="right"),
                         minlength=edges.size + 1)
    bounds = [None, *edges.tolist(), None]
    return [(bounds[i], bounds[i + 1], int(counts[i])) for i in range(edges.size + 1)]


def score_baselines(model_dir, texts: list[str], lengths: dict[str, np.ndarray], device: str,
                    seed: int, log=print, scores=None) -> dict[str, list[tuple]]:
    """Training-time bins per drift metric: the saved model's scores on (a sample of)
    every session of the table, labelled or not, and the session lengths.

    `scores`: the saved model's scores of sessions the run already scored (a fine-tuned
    encoder has no stored embeddings; its validation and test scores stand in for the
    sample rather than encoding 5,000 sessions again)."""
    from udf.scorer import Scorer

    rows = np.arange(len(texts) if scores is None else len(scores))
    if scores is None:
        if rows.size > BASELINE_SAMPLE:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(rows.size, BASELINE_SAMPLE, replace=False))
        # fp32 reuses this run's stored embeddings; the bins do not need the runtime's int8
        scorer = Scorer(model_dir, device=device, precision="fp32", use_store=True)
        scores = scorer.score([texts[r] for r in rows])
    values = {"anomaly_score": np.array(scores, dtype=float), **lengths}
    baselines = {name: reference_bins(v) for name, v in values.items()}
    log(f"drift baselines: {', '.join(baselines)} ({rows.size} sessions scored)")
    return baselines


def write_baselines(con, version: str, created_at, baselines: dict[str, list[tuple]]) -> None:
    con.execute(BASELINE_DDL)
    rows = []
    for metric, bins in baselines.items():
        total = sum(count for _, _, count in bins)
        rows += [(version, metric, i, lower, upper, count, count / total, total, created_at)
                 for i, (lower, upper, count) in enumerate(bins)]
    if rows:
        con.executemany(f"insert into {BASELINE_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows)
