"""Helpers shared by the reliability tests: files, table snapshots, processes, planted code."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
DUCKBERT = [sys.executable, "-c", "from duckbert.cli import main; main()"]
EVENT_HEADER = ["event_time", "event_type", "product_id", "category_id", "category_code",
                "brand", "price", "user_id", "user_session"]


def write_csv(path: Path, rows: list[list], quoting: int = csv.QUOTE_MINIMAL) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n", quoting=quoting).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def event_row(i: int, user: str = "u1", **changes) -> list[str]:
    row = {
        "event_time": f"2019-10-01 00:{i // 60 % 60:02d}:{i % 60:02d} UTC", "event_type": "view",
        "product_id": str(1000 + i), "category_id": "2053013555631882655",
        "category_code": "electronics.smartphone", "brand": "samsung", "price": "99.5",
        "user_id": user, "user_session": f"S-{user}",
    }
    row.update(changes)
    return [row[c] for c in EVENT_HEADER]


def snapshot(con, tables=None) -> dict[str, list[tuple]]:
    """Every row of every (or the named) user table, sorted: compare before and after."""
    names = tables or [r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main' "
        "and table_type = 'BASE TABLE' order by 1").fetchall()]
    out = {}
    for name in names:
        rows = con.execute(f'select * from "{name}"').fetchall()
        out[name] = sorted(rows, key=repr)
    return out


def db_snapshot(path: Path, tables=None) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return snapshot(con, tables)
    finally:
        con.close()


def query(path: Path, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a duckbert child process: this checkout first on the path, one
    torch thread (2 shared cores), no hub, no inherited model."""
    env = {k: v for k, v in os.environ.items() if k not in ("DUCKBERT_MODEL", "DUCKBERT_DB")}
    env.update({
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TQDM_DISABLE": "1",
    })
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen:
    """A child in its own process group (so a kill can take its whole tree), output piped."""
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        cwd=str(cwd or REPO), start_new_session=True, bufsize=1,
    )


def kill_group(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGKILL the child's whole process group and wait until every member is gone (its
    file locks are released only then)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    raise AssertionError(f"process group {proc.pid} still alive {timeout}s after SIGKILL")


def wait_unlocked(path: Path, timeout: float = 30.0) -> None:
    """Until the warehouse file can be opened for writing (a killed holder is gone)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            duckdb.connect(str(path)).close()
            return
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Pickled:
    """A pickle whose loading creates `marker`: what a malicious pytorch_model.bin does."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant_pickle(path: Path, marker: Path) -> Path:
    """Write a malicious pickle at `path`, after proving its payload is live."""
    probe = marker.with_name(marker.name + ".probe")
    pickle.loads(pickle.dumps(Pickled(probe))).close()
    assert probe.exists(), "the planted pickle would not have done anything"
    probe.unlink()
    path.write_bytes(pickle.dumps(Pickled(marker)))
    return path


def plant_remote_code(folder: Path, marker: Path) -> None:
    """A Hugging Face `auto_map` that points at a planted module which writes `marker` on
    import: what `trust_remote_code=True` would run."""
    import json

    code = (f"open({str(marker)!r}, 'w').close()\n"
            "from transformers import BertConfig, BertModel, BertTokenizerFast\n"
            "class EvilConfig(BertConfig):\n    model_type = 'evil'\n"
            "class EvilModel(BertModel):\n    config_class = EvilConfig\n"
            "class EvilTokenizer(BertTokenizerFast):\n    pass\n")
    (folder / "evil.py").write_text(code)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    tok_config = folder / "tokenizer_config.json"
    if tok_config.exists():
        data = json.loads(tok_config.read_text())
        data["auto_map"] = {"AutoTokenizer": ["evil.EvilTokenizer", None]}
        tok_config.write_text(json.dumps(data))
