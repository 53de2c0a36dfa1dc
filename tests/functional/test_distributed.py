"""score-dataset: the local and Ray engines give the SQL function's scores, atomically.

One Parquet export of 3,000 sessions (NULL texts, many duplicates, three files) is scored by
`anomaly_score` in DuckDB, by the local engine and by a Ray actor pool on a 2-CPU local
cluster the run starts and shuts down; the three must agree exactly per session_id. The
module runs in one xdist group so Ray never shares the machine with a second Ray.
"""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from duckbert.distributed import DistributedScoringError, score_dataset
from duckbert.distributed.inputs import InputError
from duckbert.distributed.output import OutputError
from duckbert.distributed.ray_engine import plan_workers
from udf.scorer import clear_scorers

pytestmark = pytest.mark.xdist_group("ray")

N_ROWS = 3000
EVENTS = ("view", "view", "view", "cart", "remove", "purchase")
GAPS = ("0s", "1s", "5s", "10s", "30s", "1m", "3m", "10m")
CATEGORIES = ("smartphone", "shoes", "kettle", "notebook", "headphone", "c417")
BRANDS = ("samsung", "apple", "xiaomi", "nike", "bosch", "")
PRICES = ("tiny", "cheap", "low", "mid", "high", "luxury")


def _session_text(rng: random.Random) -> str:
    """A session in the st1 style: a header, then "gap type [category brand] price" items."""
    n = rng.randint(1, 12)
    items = []
    for i in range(n):
        gap = "" if i == 0 else rng.choice(GAPS) + " "
        kind = rng.choice(EVENTS)
        if i and rng.random() < 0.4:
            items.append(f"{gap}{kind} same")
        else:
            brand = rng.choice(BRANDS)
            items.append(f"{gap}{kind} {rng.choice(CATEGORIES)} {brand} {rng.choice(PRICES)}"
                         .replace("  ", " "))
    return f"{rng.choice(('desktop', 'mobile'))} {n} events | " + " | ".join(items)


@pytest.fixture(scope="module")
def sessions_dir(tmp_path_factory):
    """3,000 sessions in three Parquet files: ~5% NULL text, a quarter from 200 repeats."""
    rng = random.Random(7)
    common = [_session_text(rng) for _ in range(200)]
    ids, texts = [], []
    for i in range(N_ROWS):
        ids.append(f"sess-{i:05d}")
        r = rng.random()
        texts.append(None if r < 0.05 else rng.choice(common) if r < 0.45
                     else _session_text(rng))
    folder = tmp_path_factory.mktemp("export")
    for k in range(3):
        table = pa.table({"session_id": ids[k::3], "session_text": texts[k::3],
                          "user_id": [f"u{i % 97}" for i in range(len(ids[k::3]))]})
        pq.write_table(table, folder / f"sessions-{k}.parquet", row_group_size=500)
    return folder


@pytest.fixture(scope="module")
def sql_scores(sessions_dir, tiny_model):
    """session_id -> anomaly_score from the in-DuckDB SQL path."""
    con = duckdb.connect(":memory:")
    try:
        import udf

        udf.register(con, model=str(tiny_model))
        rows = con.execute(
            "select session_id, anomaly_score(session_text) "
            f"from read_parquet('{sessions_dir}/*.parquet')"
        ).fetchall()
    finally:
        con.close()
    clear_scorers()  # the engines must load and score afresh, not read this cache
    return dict(rows)


def _read_output(folder) -> dict:
    rows = duckdb.sql(
        f"select session_id, anomaly_score from read_parquet('{folder}/*.parquet')"
    ).fetchall()
    return dict(rows)


def _assert_same_scores(got: dict, expected: dict) -> None:
    assert len(got) == len(expected) == N_ROWS
    assert got.keys() == expected.keys()
    nulls = [k for k, v in expected.items() if v is None]
    assert nulls and all(got[k] is None for k in nulls)
    mismatched = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not mismatched, f"{len(mismatched)} scores differ, e.g. {list(mismatched.items())[:3]}"


def test_local_engine_matches_sql(sessions_dir, sql_scores, tiny_model, tmp_path):
    clear_scorers()
    out = tmp_path / "scores"
    summary = score_dataset(str(sessions_dir / "*.parquet"), out, model=str(tiny_model),
                            batch_size=700)
    _assert_same_scores(_read_output(out), sql_scores)
    assert summary["rows"] == N_ROWS
    assert summary["null_scores"] == sum(v is None for v in sql_scores.values())
    version = summary["model_version"]

    schema = pq.read_schema(next(out.glob("*.parquet")))
    assert schema.names == ["session_id", "anomaly_score", "model_version", "scored_at",
                            "text_hash"]
    assert schema.field("anomaly_score").type == pa.float64()
    assert schema.field("scored_at").type == pa.timestamp("us", tz="UTC")
    # text_hash is DuckDB's md5(session_text), so dbt can detect changed texts
    bad = duckdb.sql(f"""
        select count(*) from read_parquet('{out}/*.parquet') o
        join read_parquet('{sessions_dir}/*.parquet') s using (session_id)
        where o.text_hash is distinct from md5(s.session_text)
           or o.model_version <> '{version}'
    """).fetchall()[0][0]
    assert bad == 0
    assert (out / "_duckbert_manifest.json").is_file()


def test_ray_engine_matches_sql(sessions_dir, sql_scores, tiny_model, tmp_path):
    import ray

    assert not ray.is_initialized()
    out = tmp_path / "scores"
    summary = score_dataset(str(sessions_dir), out, model=str(tiny_model), engine="ray",
                            num_cpus=2, concurrency=2, cpus_per_worker=0.5, batch_size=512,
                            block_mb=0.0625)  # ~25 blocks, so both actors get work
    assert not ray.is_initialized(), "the local Ray it started must be shut down"
    assert summary["workers"] == 2 and summary["device"] == "cpu"
    assert summary["rows"] == N_ROWS
    _assert_same_scores(_read_output(out), sql_scores)
    assert not list(tmp_path.glob(".scores.*")), "staging directory left behind"


def test_failed_run_leaves_no_output(sessions_dir, tiny_model, tmp_path, monkeypatch):
    import duckbert.distributed.local as local

    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    real = local.score_table
    monkeypatch.setattr(local, "score_table", failing)
    out = tmp_path / "scores"
    with pytest.raises(RuntimeError, match="worker died"):
        score_dataset(str(sessions_dir), out, model=str(tiny_model), batch_size=300,
                      rows_per_file=400)  # two files were complete when it failed
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_row_count_check_blocks_the_commit(sessions_dir, tiny_model, tmp_path, monkeypatch):
    import duckbert.distributed.api as api

    monkeypatch.setattr(api.out, "count_output", lambda folder: (N_ROWS - 1, 0))
    out = tmp_path / "scores"
    with pytest.raises(DistributedScoringError, match="nothing was written"):
        score_dataset(str(sessions_dir), out, model=str(tiny_model))
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_needs_overwrite(sessions_dir, tiny_model, tmp_path):
    out = tmp_path / "scores"
    out.mkdir()
    (out / "old.parquet").write_bytes(b"stale")
    with pytest.raises(OutputError, match="not empty"):
        score_dataset(str(sessions_dir), out, model=str(tiny_model))
    assert (out / "old.parquet").read_bytes() == b"stale"
    score_dataset(str(sessions_dir), out, model=str(tiny_model), overwrite=True)
    assert not (out / "old.parquet").exists()
    assert len(_read_output(out)) == N_ROWS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores"]


def test_empty_input_writes_an_empty_readable_output(tiny_model, tmp_path):
    src = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"session_id": pa.array([], pa.string()),
                             "session_text": pa.array([], pa.string())}), src)
    summary = score_dataset(str(src), tmp_path / "out", model=str(tiny_model))
    assert summary["rows"] == 0
    assert duckdb.sql(f"select count(*) from read_parquet('{tmp_path}/out/*.parquet')"
                      ).fetchall() == [(0,)]


@pytest.mark.parametrize("case, match", [
    ("missing", "does not exist"),
    ("empty_glob", "no files match"),
    ("empty_dir", "no \\*.parquet files"),
    ("no_columns", "lacks column\\(s\\) session_text; it has: session_id, body"),
    ("not_text", "must hold text"),
    ("unknown_model", "unknown duckbert model 'nope'"),
    ("bad_engine", "unknown engine"),
])
def test_clear_errors(case, match, tiny_model, tmp_path):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"session_id": ["a"], "session_text": ["view x"]}), good)
    args = {"input_glob": str(good), "model": str(tiny_model)}
    if case == "missing":
        args["input_glob"] = str(tmp_path / "nowhere.parquet")
    elif case == "empty_glob":
        args["input_glob"] = str(tmp_path / "*.csv")
    elif case == "empty_dir":
        (tmp_path / "empty").mkdir()
        args["input_glob"] = str(tmp_path / "empty")
    elif case in ("no_columns", "not_text"):
        bad = tmp_path / "bad.parquet"
        columns = ({"session_id": ["a"], "body": ["x"]} if case == "no_columns"
                   else {"session_id": ["a"], "session_text": [1]})
        pq.write_table(pa.table(columns), bad)
        args["input_glob"] = str(bad)
    elif case == "unknown_model":
        args["model"] = "nope"
    elif case == "bad_engine":
        args["engine"] = "spark"
    with pytest.raises((InputError, LookupError, ValueError), match=match):
        score_dataset(output_dir=tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def test_worker_planning():
    cpu = {"CPU": 2.0}
    assert plan_workers(cpu, concurrency=None, num_gpus_per_worker=None, cpus_per_worker=1,
                        own_cluster=True)["workers"] == 1  # one CPU stays with the I/O tasks
    with pytest.raises(ValueError, match="wait forever"):
        plan_workers(cpu, concurrency=2, num_gpus_per_worker=0, cpus_per_worker=1,
                     own_cluster=True)
    with pytest.raises(ValueError, match="no GPU"):
        plan_workers(cpu, concurrency=None, num_gpus_per_worker=1, cpus_per_worker=1,
                     own_cluster=True)
    gpu = plan_workers({"CPU": 64.0, "GPU": 8.0}, concurrency=None, num_gpus_per_worker=None,
                       cpus_per_worker=1, own_cluster=False)
    assert gpu == {"workers": 8, "num_cpus": 1.0, "num_gpus": 1.0, "device": "cuda",
                   "threads": 1}
    half = plan_workers({"CPU": 64.0, "GPU": 8.0}, concurrency=None, num_gpus_per_worker=0.5,
                        cpus_per_worker=1, own_cluster=False)
    assert half["workers"] == 16


def test_cli(sessions_dir, tiny_model, tmp_path):
    from duckbert.cli import main

    out = tmp_path / "cli"
    runner = CliRunner()
    result = runner.invoke(main, ["score-dataset", "--input", str(sessions_dir / "*.parquet"),
                                  "--output", str(out), "--model", str(tiny_model),
                                  "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 0, result.output
    assert f"scored {N_ROWS:,} rows" in result.output and "rows/s" in result.output
    assert str(out) in result.output and "tiny@" in result.output
    again = runner.invoke(main, ["score-dataset", "--input", str(sessions_dir),
                                 "--output", str(out), "--model", str(tiny_model)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    local_only = runner.invoke(main, ["score-dataset", "--input", str(sessions_dir),
                                      "--output", str(tmp_path / "x"), "--concurrency", "2"])
    assert local_only.exit_code == 2 and "only apply to --engine ray" in local_only.output


def test_prepare_process_settles_the_fsspec_http_import():
    """Ray Data's threaded listing needs this import to succeed or fail cleanly, every time."""
    from duckbert.distributed.ray_engine import prepare_process

    prepare_process()
    try:
        from fsspec.implementations.http import HTTPFileSystem  # noqa: F401
    except ImportError as exc:
        assert isinstance(exc, ModuleNotFoundError)


def test_model_names_resolve_through_the_warehouse(tiny_model, tmp_path):
    import datetime as dt

    from duckbert.distributed.api import resolve_model_dir
    from udf.artifact import read_meta
    from udf.registry import record_run

    db = tmp_path / "wh.duckdb"
    con = duckdb.connect(str(db))
    record_run(con, {"name": "fraud", "version": read_meta(tiny_model)["version"],
                     "path": str(tiny_model), "created_at": dt.datetime.now(dt.timezone.utc)},
               make_current=True)
    con.close()
    expected = str(tiny_model.resolve())
    assert resolve_model_dir(None, str(db)) == expected  # the warehouse's current model
    assert resolve_model_dir("fraud", str(db)) == expected
    with pytest.raises(LookupError, match="known models: fraud"):
        resolve_model_dir("other", str(db))
    with pytest.raises(LookupError, match="does not exist"):
        resolve_model_dir("fraud", str(tmp_path / "missing.duckdb"))
