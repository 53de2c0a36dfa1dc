"""`duckbert report`: one self-contained HTML page (inline SVG, no scripts, no network).

`build_report(db_path, out_path)` reads the BI marts on a read-only connection and writes the
page: score distribution with the threshold, the current model's precision-recall curve,
flagged sessions per day, the flagged users table and the event patterns that drove flags.
"""

from duckbert.report.page import build_report

__all__ = ["build_report"]
