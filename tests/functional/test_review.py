"""`duckbert review` in a real browser: the server as a user starts it, headless Chromium.

The server runs as its own process (`duckbert review --port 0`) on a copy of the shared
scored warehouse; Playwright drives Debian's Chromium (never a downloaded browser). A session
is labelled with a click and one with a key, and the rows are read back from raw_labels;
twenty more are labelled with the keyboard against the clock; a screenshot must show the
page; and while a dbt build holds the warehouse, a label waits in the side queue and reaches
raw_labels once the build is done, without the build failing. Without Chromium (or the
playwright package) these tests are reported as skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import duckdb
import numpy as np
import pytest

from duckbert import label_queue
from duckbert.writer_lock import holder
from tests.helpers.bi_warehouse import ENV, base_warehouse, copy_warehouse
from tests.helpers.png import png_pixels

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                         if Path("/usr/bin/chromium").exists() else None)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def _needs_browser():
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is "
                               "not installed (pip install -e '.[dev]')")


class Server:
    """`duckbert review` as a subprocess; its URL from the first line it prints."""

    def __init__(self, db: Path, env: dict):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from duckbert.cli import main; main()", "review", "--db",
             str(db), "--port", "0", "--source", "test-analyst"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        line = self.proc.stdout.readline()
        assert line.startswith("duckbert review: http://127.0.0.1:"), line + self.rest()
        self.url = line.split()[2]
        self.lines = [line]
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def rest(self) -> str:
        self.proc.kill()
        return self.proc.stdout.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def wh(tmp_path_factory, worker_id, tiny_bert):
    base = base_warehouse(tmp_path_factory, worker_id, tiny_bert)
    return copy_warehouse(base, tmp_path_factory.mktemp("review"))


@pytest.fixture(scope="module")
def env(wh):
    import os

    return {**os.environ, **ENV, "DBT_TARGET_PATH": str(wh.target),
            "DBT_LOG_PATH": str(wh.root / "logs")}


@pytest.fixture(scope="module")
def server(wh, env):
    srv = Server(wh.db, env)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    sync_api = _needs_browser()
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            headless=True, args=FLAGS, viewport={"width": 1400, "height": 900})
        yield context
        context.close()


def review_rows(db: Path, at_least: int = 0, timeout: float = 60) -> list[tuple]:
    """The queue's rows in raw_labels, once there are `at_least` of them (the server writes
    them a moment after the page answers; while it writes, the file is locked)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            rows = _review_rows(db)
        except duckdb.IOException:
            rows = None
        if rows is not None and len(rows) >= at_least or time.monotonic() > deadline:
            return rows or []
        time.sleep(0.2)


def _review_rows(db: Path) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(
            "select session_id, is_anomaly, label_source, labelled_at, "
            "json_extract_string(extra, '$.note') from raw_labels "
            "where source_file = 'duckbert review' order by source_row").fetchall()
    finally:
        con.close()


def shown_session(page) -> str:
    return page.locator("#detail").get_attribute("data-session")


def label(page, action) -> dict:
    """Do `action` (a click or a key); the /api/label answer, once the page has moved on
    (the page carries it over to the next session, where it shows it in the header)."""
    before = shown_session(page)
    with page.expect_navigation():
        action()
    page.wait_for_function("() => window.duckbertLast !== undefined")
    body = page.evaluate("window.duckbertLast")
    assert body and body["session_id"] == before, body
    return body


def test_label_with_a_click_and_with_a_key(server, browser, wh):
    page = browser.new_page()
    page.goto(server.url)
    # open = no analyst verdict yet (the copy has only labels loaded from files)
    top = wh.q("select session_id from flagged_sessions "
               "order by anomaly_score desc, session_id limit 2")
    assert [shown_session(page)] == [top[0][0]], "the queue opens on the highest open score"
    assert page.locator("ol.reasons li .reason").count() >= 1
    assert page.locator("table.timeline tbody tr").count() >= 1
    page.fill("#note", "card testing <script>alert(1)</script>")
    first = label(page, lambda: page.click("#btn-anomaly"))
    assert first["status"] == "saved", first
    second_id = shown_session(page)
    assert second_id == top[1][0]
    second = label(page, lambda: page.keyboard.press("n"))
    assert second["status"] == "saved"
    rows = review_rows(wh.db, at_least=2)
    assert [(r[0], r[1], r[2]) for r in rows] == [(top[0][0], True, "test-analyst"),
                                                  (second_id, False, "test-analyst")]
    assert all(r[3] is not None for r in rows) and rows[0][4].startswith("card testing <")
    # the labelled session shows its label, the note escaped, not run
    page.goto(server.url + "?status=all&s=" + top[0][0])
    assert "card testing <script>" in page.locator("ul.labels").inner_text()
    assert page.locator("ul.labels script").count() == 0


def test_twenty_sessions_with_the_keyboard_in_under_a_minute(server, browser, wh):
    page = browser.new_page()
    page.goto(server.url + "?status=all")
    n = min(20, page.locator("nav.queue tbody tr").count() - 1)
    assert n >= 10, "the shared warehouse flags enough sessions to time"
    page.goto(server.url)
    before = len(review_rows(wh.db, at_least=2))
    started = time.monotonic()
    for i in range(n):
        # anomaly (the flags are mostly right; the retraining below needs its anomalies)
        label(page, lambda i=i: page.keyboard.press("s" if i % 5 == 4 else "a"))
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"{n} sessions took {elapsed:.1f}s"
    after = review_rows(wh.db, at_least=before + n - n // 5)
    assert len(after) == before + n - n // 5, "every verdict reached raw_labels, skips none"
    print(f"{n} sessions labelled with the keyboard in {elapsed:.1f}s")


def test_the_page_renders(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server.url + "?status=all")
    shot = tmp_path / "review.png"
    page.screenshot(path=str(shot))
    pixels = png_pixels(shot.read_bytes())
    assert pixels.shape == (900, 1400, 3)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 100, f"only {len(colours)} colours: a blank or broken page"
    flat = pixels.reshape(-1, 3)
    header = (flat == (0x1D, 0x23, 0x30)).all(axis=1).sum()
    assert header > 20_000, "the dark header bar is drawn"
    assert (flat < 200).any(axis=1).mean() > 0.03, "text and tables are drawn"


def post(server, body, headers=None) -> tuple[int, dict]:
    token = _token(server)
    request = urllib.request.Request(
        server.url + "api/label", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-CSRF-Token": token,
                 **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _token(server) -> str:
    with urllib.request.urlopen(server.url, timeout=30) as response:
        html = response.read().decode()
        headers = response.headers
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    return html.split('name="csrf-token" content="')[1].split('"')[0]


def test_requests_from_elsewhere_and_bad_input_are_refused(server, wh):
    sid = wh.q("select session_id from flagged_sessions order by anomaly_score limit 1")[0][0]
    before = review_rows(wh.db)
    cases = [
        ({"X-CSRF-Token": "forged"}, {"session_id": sid, "verdict": "normal"}, "CSRF"),
        ({"Origin": "http://evil.example"}, {"session_id": sid, "verdict": "normal"},
         "cross-origin"),
        ({"Content-Type": "text/plain"}, {"session_id": sid, "verdict": "normal"}, "json"),
        ({}, {"session_id": sid, "verdict": "maybe"}, "verdict"),
        ({}, {"session_id": "x" * 400, "verdict": "normal"}, "session_id"),
        ({}, {"session_id": sid, "verdict": "normal", "note": "a\x00b"}, "control"),
        ({}, {"session_id": sid, "verdict": "normal", "note": "n" * 3000}, "longer"),
    ]
    for headers, body, why in cases:
        status, answer = post(server, body, headers)
        assert status == 400 and why.lower() in answer["error"].lower(), (why, answer)
    status, answer = post(server, {"session_id": "no-such-session", "verdict": "anomaly"})
    assert status == 404 and "not a flagged session" in answer["error"]
    request = urllib.request.Request(server.url, headers={"Host": "rebinding.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 400
    assert review_rows(wh.db) == before, "nothing refused was written"


def test_a_label_made_during_a_build_waits_and_the_build_is_not_blocked(server, browser, wh):
    page = browser.new_page()
    page.goto(server.url)
    sid = shown_session(page)
    result = {}
    build = threading.Thread(target=lambda: result.update(done=wh.dbt("build", check=False)))
    build.start()
    deadline = time.monotonic() + 120
    while holder(wh.db) is None and build.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    held = holder(wh.db) is not None
    answer = label(page, lambda: page.keyboard.press("a"))
    still_held = holder(wh.db) is not None
    if held and still_held:
        assert answer["status"] == "queued", answer
        queued = [e["label"].session_id for e in label_queue.pending(wh.db) if "label" in e]
        assert sid in queued, "the label waits in the side queue while the build runs"
    build.join(timeout=600)
    assert result["done"].ok, "\n".join(result["done"].tail[-20:])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sid in [r[0] for r in review_rows(wh.db)]:
            break
        time.sleep(0.5)
    rows = [r for r in review_rows(wh.db) if r[0] == sid]
    assert rows and rows[-1][1] is True, "the queued label reached raw_labels"
    assert held, "the build held the warehouse while the label was made"


def test_train_resume_learns_from_the_page_labels_without_a_build(server, browser, wh, env,
                                                                   tiny_bert):
    page = browser.new_page()
    page.goto(server.url)
    before = len(review_rows(wh.db))
    label(page, lambda: page.keyboard.press("a"))
    assert len(review_rows(wh.db, at_least=before + 1)) == before + 1
    server.stop()  # the page is closed; what it wrote stays
    proc = subprocess.run(
        [sys.executable, "-c", "from duckbert.cli import main; main()", "train", "--db",
         str(wh.db), "--resume", "--base-model", str(tiny_bert), "--mode", "head",
         "--no-peers", "--quiet"], capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "label(s) arrived since the last build; refreshing it" in proc.stdout
    arrived = int(proc.stdout.split("resuming from ")[1].split(": ")[1].split(" labels")[0])
    assert arrived >= 1, proc.stdout
