"""`duckbert bench quality`: duckbert against classic peers where BERT should help, and
where it may not.

Rows (each on its own test users, every contender on the same split):

- a  the default generator;
- b  a learning curve: a share of the training pool's users labelled (2% ... 100%);
- c  catalogue shift: test users shop categories, brands and products no training session
     has (the generator's shifted catalogue);
- d  one abuse family held out of training (its sessions in the test set only);
- e  long realistic reviews: a warehouse of its own where reviews are the abuse surface
     (genuine reviews in several voices, deceptive ones imitating them, a novel variant in
     words no training text has), rendered whole in text format st2; sessions with reviews.

Contenders: duckbert as `duckbert train` ships it (mode auto), the seed document's recipe,
optional other modes, TF-IDF + logistic regression on the same session text and gradient
boosting on the session aggregates. PR-AUC with a 95% bootstrap interval over test users,
and the paired interval of duckbert minus the best peer (training.bootstrap.py).

Models trained on the same warehouse share one embedding store, and `--work-dir` with
`reuse` keeps warehouses and stores between runs, so a rerun encodes nothing it has seen.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROWS = {
    "a": "default generator",
    "b": "learning curve",
    "c": "catalogue shift",
    "d": "abuse family held out",
    "e": "long realistic reviews",
}
DEFAULT_FRACTIONS = (0.02, 0.05, 0.10, 0.30, 1.0)
DEFAULT_MODES = ("auto",)


@dataclass
class QualityRun:
    """Sizes and choices of one benchmark run (the CLI's options)."""

    users: int = 1500
    shift_users: int = 500
    review_users: int = 1000
    """Users of row e's warehouse (realistic reviews, review fraud only)."""
    seed: int = 0
    difficulty: float | None = None
    rows: tuple = tuple(ROWS)
    fractions: tuple = DEFAULT_FRACTIONS
    holdout_family: str = "fake_review"
    test_share: float = 0.25
    bootstrap: int = 1000
    modes: tuple = DEFAULT_MODES
    time_budget_s: float | None = None
    base_model: str | None = None
    device: str | None = None
    work_dir: str | None = None
    reuse: bool = True
    overrides: dict = field(default_factory=dict)
    """TrainConfig overrides for every duckbert contender (tests: a quick head mode)."""
    models_dir: Path = field(default=None, repr=False)

    def __post_init__(self):
        from duckbert.synthetic import FAMILY_NAMES

        unknown = sorted(set(self.rows) - set(ROWS))
        if unknown or not self.rows:
            raise ValueError(f"unknown row(s) {unknown}; choose from {', '.join(ROWS)}")
        if self.holdout_family not in FAMILY_NAMES:
            raise ValueError(f"holdout family must be one of {', '.join(FAMILY_NAMES)}, "
                             f"got {self.holdout_family!r}")
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
            raise ValueError("label fractions must be in (0, 1]")
        if not 0 < self.test_share < 1:
            raise ValueError("test share must be in (0, 1)")


@dataclass
class Job:
    """One training table and the test sets its models are scored on."""

    key: str
    frame: object
    pool: object  # frame rows (numpy)
    labelled: object  # aligned with pool: label kept
    tests: dict  # row id -> frame rows
    train_note: str = ""


def _review_job(frame, sets) -> Job:
    """Row e: the review warehouse's pool and test sessions that have a review."""
    import numpy as np

    pool = sets.pool[frame.n_reviews[sets.pool] > 0]
    test = sets.test[frame.n_reviews[sets.test] > 0]
    return Job("reviews", frame, pool, np.ones(len(pool), dtype=bool), {"e": test},
               "sessions with a review of every pool user of the review warehouse")


def _jobs(run: QualityRun, frame, sets) -> list[Job]:
    import numpy as np

    from duckbert.benchmarks.quality_data import labelled_users

    if frame is None:
        return []
    everyone = np.ones(len(sets.pool), dtype=bool)
    full_tests = {}
    if "a" in run.rows or ("b" in run.rows and 1.0 in run.fractions):
        full_tests["a"] = sets.test
    if "c" in run.rows:
        full_tests["c"] = sets.shifted
    jobs = []
    if full_tests:
        jobs.append(Job("full", frame, sets.pool, everyone, full_tests, "every pool user"))
    if "b" in run.rows:
        for fraction in sorted(f for f in run.fractions if f < 1):
            users = labelled_users(frame, sets.pool, fraction, run.seed)
            mask = np.array([u in users for u in frame.users[sets.pool]], dtype=bool)
            jobs.append(Job(f"b{fraction * 100:g}", frame, sets.pool, mask,
                            {f"b {fraction:.0%}": sets.test},
                            f"{fraction:.0%} of pool users labelled ({len(users)} users)"))
    if "d" in run.rows:
        keep = sets.pool[frame.families[sets.pool] != run.holdout_family]
        jobs.append(Job("holdout", frame, keep, np.ones(len(keep), dtype=bool),
                        {"d": sets.test}, f"every pool user, {run.holdout_family} left out"))
    return jobs


def _row_specs(run: QualityRun) -> list[tuple[str, str, str, str]]:
    """(row label, job key, test set key, title) in table order."""
    specs = []
    if "a" in run.rows:
        specs.append(("a", "full", "a", ROWS["a"]))
    if "b" in run.rows:
        for fraction in sorted(run.fractions):
            if fraction < 1:
                label = f"b {fraction:.0%}"
                specs.append((label, f"b{fraction * 100:g}", label,
                              f"{fraction:.0%} of users labelled"))
            else:
                specs.append(("b 100%", "full", "a", "100% of users labelled (= row a)"))
    if "c" in run.rows:
        specs.append(("c", "full", "c", ROWS["c"]))
    if "d" in run.rows:
        specs.append(("d", "holdout", "d", f"{run.holdout_family} held out of training"))
    if "e" in run.rows:
        specs.append(("e", "reviews", "e", ROWS["e"]))
    return specs


def run_quality(run: QualityRun, log=print) -> dict:
    """Build the data, train every contender of every row, score, and summarize."""
    from duckbert.benchmarks.quality_data import (
        assign,
        main_parts,
        read_frame,
        review_parts,
        write_table,
    )
    from duckbert.benchmarks.quality_models import (
        contenders,
        fit_peers,
        read_peer_aggregates,
        train_duckbert,
    )
    from duckbert.benchmarks.warehouse import build_warehouse_parts
    from udf.base_models import DEFAULT_BASE_MODEL
    from udf.device import choose_device

    started = time.monotonic()
    work = Path(run.work_dir or tempfile.mkdtemp(prefix="duckbert-quality-"))
    run.models_dir = work / "models"
    frame = sets = None
    jobs, house = [], {}
    if set(run.rows) - {"e"}:
        log("== main warehouse")
        shift = run.shift_users if "c" in run.rows else 0
        db = build_warehouse_parts(work / "main", main_parts(run.users, shift, run.seed,
                                                             run.difficulty), log, run.reuse)
        frame = read_frame(db)
        sets = assign(frame, run.test_share, run.seed)
        jobs = _jobs(run, frame, sets)
        house["warehouse"] = {"sessions": len(frame), "users": int(len(set(frame.users))),
                              "pool_sessions": int(len(sets.pool)),
                              "test_sessions": int(len(sets.test)),
                              "shifted_sessions": int(len(sets.shifted))}
    if "e" in run.rows:
        log("== review warehouse (row e)")
        db = build_warehouse_parts(work / "reviews", review_parts(
            run.review_users, run.seed, run.difficulty), log, run.reuse)
        review_frame = read_frame(db)
        job = _review_job(review_frame, assign(review_frame, run.test_share, run.seed))
        jobs.append(job)
        house["review_warehouse"] = {
            "sessions": len(review_frame), "users": int(len(set(review_frame.users))),
            "with_reviews": int((review_frame.n_reviews > 0).sum()),
            "pool_sessions": int(len(job.pool)), "test_sessions": int(len(job.tests["e"]))}
    aggregates: dict = {}
    trained: dict[str, dict] = {}
    for job in jobs:
        log(f"\n== training table for {job.key}: {job.train_note}")
        table = write_table(job.frame, f"bench_{job.key}", job.pool, job.labelled)
        if job.frame.db not in aggregates:
            aggregates[job.frame.db] = read_peer_aggregates(job.frame.db)
        results = {}
        for name, overrides in contenders(run.modes).items():
            log(f"  -- {name}")
            results[name] = train_duckbert(job.frame, table, name, overrides, job.tests, run,
                                           log)
        for peer in fit_peers(job.frame, table, job.tests, aggregates[job.frame.db], run, log):
            results[peer.name] = peer
        labelled_rows = job.pool[job.labelled]
        trained[job.key] = {"job": job, "contenders": results, "train": {
            "pool_sessions": int(len(job.pool)), "labelled_sessions": int(len(labelled_rows)),
            "labelled_anomalous": int(job.frame.labels[labelled_rows].sum()),
            "labelled_users": int(len(set(job.frame.users[labelled_rows]))),
            "note": job.train_note}}
    rows = [_summarize_row(run, trained[key]["job"].frame, label, title, trained[key],
                           test_key)
            for label, key, test_key, title in _row_specs(run)]
    config = {k: v for k, v in asdict(run).items() if k != "models_dir"}
    config.update(work_dir=str(work), device=choose_device(run.device),
                  base_model=run.base_model or DEFAULT_BASE_MODEL)
    return {"rows": rows, "config": config, "date": dt.date.today().isoformat(),
            "seconds": round(time.monotonic() - started, 1), **house}


def _summarize_row(run, frame, label, title, trained, test_key) -> dict:
    from training.bootstrap import (
        paired_difference,
        pr_auc_with_interval,
        public,
        user_weights,
        verdict,
    )

    rows = trained["job"].tests[test_key]
    truth = frame.truth[rows]
    weights = user_weights(frame.users[rows], run.bootstrap, run.seed)
    focus = _focus(run, label, frame, rows)
    models, raw = {}, {}
    for name, contender in trained["contenders"].items():
        entry = {"info": contender.info}
        if contender.refused:
            entry["refused"] = contender.refused
        else:
            scores = contender.scores[test_key]
            raw[name] = pr_auc_with_interval(truth, scores, weights)
            entry.update(public(raw[name]))
            for what, mask in focus.items():
                keep = mask | (truth == 0)
                entry.setdefault("focus", {})[what] = public(pr_auc_with_interval(
                    truth[keep], scores[keep], weights[:, keep]))
        models[name] = entry
    out = {"row": label, "title": title, "train": trained["train"], "models": models,
           "test": {"sessions": int(len(rows)), "anomalous": int(truth.sum()),
                    "users": int(len(set(frame.users[rows])))}}
    peers = [p for p in ("tfidf_logreg", "gbm_aggregates") if p in raw]
    if peers:
        best = max(peers, key=lambda p: raw[p]["pr_auc"])
        out["best_peer"] = best
        for name in ("duckbert", "seed recipe"):
            if name in raw:
                diff = paired_difference(raw[name], raw[best])
                out.setdefault("vs_best_peer", {})[name] = {**diff, "verdict": verdict(diff)}
    return out


def _focus(run, label, frame, rows) -> dict:
    """Subsets a row reports on their own (each against every normal test session)."""
    out = {}
    if label == "d":
        out[f"{run.holdout_family} (held out)"] = frame.families[rows] == run.holdout_family
    novel = frame.variants[rows] == "novel"
    if novel.any():
        out["novel variants"] = novel
    return out


def save(results: dict, out_path, docs_path, command: str) -> str:
    """Write the JSON and (optionally) the docs block; returns the Markdown."""
    from duckbert.benchmarks.docs_block import write_block
    from duckbert.benchmarks.quality_report import markdown

    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    text = markdown(results, command)
    if docs_path:
        # row e alone has a block of its own, so it leaves the tables of rows a-d in place
        only_e = [r["row"] for r in results["rows"]] == ["e"]
        write_block(docs_path, "Quality", "quality-e" if only_e else "quality", text,
                    by="duckbert bench quality")
    return text
