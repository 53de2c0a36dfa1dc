"""`duckbert report`: one self-contained HTML page that a browser renders with no network.

The page is written for the shared scored warehouse, checked for anything that would reach
out (scripts, stylesheets, images, fonts, URLs), and rendered by headless Chromium into a PNG
whose pixels must show the charts: many colours, and the chart colours themselves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from duckbert.cli import main
from duckbert.report.charts import ACCENT, BAR, nice_ticks
from duckbert.report.queries import patterns
from tests.helpers.bi_warehouse import base_warehouse
from tests.helpers.png import png_pixels

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium"
                                         if Path("/usr/bin/chromium").exists() else None)
CHART_TITLES = ("Score distribution", "Precision-recall curve", "Flagged sessions per day",
                "Top event patterns among flagged sessions", "Flagged users")


@pytest.fixture(scope="module")
def wh(tmp_path_factory, worker_id, tiny_bert):
    return base_warehouse(tmp_path_factory, worker_id, tiny_bert)


@pytest.fixture(scope="module")
def report(wh, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(main, ["report", "--db", str(wh.db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_the_report_says_what_the_warehouse_holds(wh, report):
    path, output = report
    html = path.read_text(encoding="utf-8")
    scored = wh.q("select count(*) from session_scores")[0][0]
    flagged, users = wh.q("select (select count(*) from flagged_sessions), "
                          "(select count(*) from flagged_users)")[0]
    version, threshold = wh.q("select version, threshold from duckbert_models "
                              "where is_current")[0]
    assert f"{scored:,} sessions scored, {flagged:,} flagged" in output
    for title in CHART_TITLES:
        assert title in html
    assert html.count("<svg") == 4
    assert version in html and f"threshold {threshold:.3f}" in html
    kpis = dict((label, value) for value, label in re.findall(
        r'<div class="kpi"><b>([^<]*)</b><span>([^<]*)</span>', html))
    assert kpis["sessions scored"] == f"{scored:,}"
    assert kpis["sessions flagged"] == f"{flagged:,}"
    assert kpis["users flagged"] == f"{users:,}"
    top_user = wh.q("select user_id from flagged_users order by max_score desc, "
                    "sessions_flagged desc limit 1")[0][0]
    assert f"<td>{top_user}</td>" in html
    # one bar per day from the first flagged day to the last, zeros included
    first, last = wh.q("select min(cast(session_start as date)), max(cast(session_start as "
                       "date)) from flagged_sessions")[0]
    assert f"day ({first} to {last}, UTC)" in html


def test_the_report_needs_no_network(report):
    html = report[0].read_text(encoding="utf-8")
    assert not re.search(r"https?://", html), "an absolute URL in the page"
    assert not re.search(r"<script\b", html, re.I), "no scripts at all"
    assert not re.search(r"<link\b[^>]*\bhref=", html, re.I)
    assert not re.search(r"<(img|iframe|object|embed|video|audio|source)\b", html, re.I)
    assert not re.search(r"\b(src|srcset)\s*=", html, re.I)
    assert not re.search(r"url\(|@import|@font-face", html, re.I), "CSS that fetches"
    assert not re.search(r"\bhref\s*=", html, re.I)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                    "(Debian: apt-get install chromium); the render check needs a browser")
def test_headless_chromium_renders_the_charts(report, tmp_path):
    png = tmp_path / "report.png"
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={png}", "--window-size=1280,2200", report[0].resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert png.exists() and png.stat().st_size > 10_000, proc.stderr[-2000:]
    pixels = png_pixels(png.read_bytes())
    assert pixels.shape == (2200, 1280, 3)
    colours = np.unique(pixels.reshape(-1, 3), axis=0)
    assert len(colours) > 200, f"only {len(colours)} colours: a blank or broken page"
    flat = pixels.reshape(-1, 3)
    not_white = (flat < 245).any(axis=1).mean()
    assert not_white > 0.05, f"{not_white:.1%} of the page is not white"
    # the bars and the threshold line were drawn, not just text
    bar = (flat == _rgb(BAR)).all(axis=1).sum()
    accent = (flat == _rgb(ACCENT)).all(axis=1).sum()
    assert bar > 20_000, f"{bar} pixels in the bar colour"
    assert accent > 100, f"{accent} pixels in the threshold colour"


def test_axis_ticks_are_round_numbers():
    assert nice_ticks(179) == [0, 50, 100, 150, 200]
    assert nice_ticks(8) == [0, 2, 4, 6, 8]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(1) == [0, 1]
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(0.3) == pytest.approx([0, 0.1, 0.2, 0.3])


@pytest.mark.parametrize("event, expected", [
    ("2s purchase c339 tiny x4", ["purchase tiny repeated"]),
    ("10s view same x40", ["view same repeated"]),
    ("view sofa ikea luxury", ["view luxury"]),
    ("1s click next player low + 2s view same", ["click next low", "view same"]),
    ("10s review 5 verified great phone!!!", ["review 5 verified"]),
    ("93 more: 15 view 78 click over 5m + 2s view same", ["summarized middle", "view same"]),
    ("7m 11 events 7 view", ["7m 11 events 7 view"]),
])
def test_explained_events_reduce_to_patterns(event, expected):
    assert patterns(event) == expected
