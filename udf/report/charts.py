"""Small inline-SVG charts: enough axes and labels to read, nothing to download."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 560, 240
MARGIN = {"left": 56, "right": 16, "top": 16, "bottom": 40}
BAR = "#4c72b0"
ACCENT = "#c44e52"


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    left, bottom = MARGIN["left"], HEIGHT - MARGIN["bottom"]
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{MARGIN["top"]}" x2="{left}" y2="{bottom}" stroke="#333"/>',
        f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - MARGIN["right"]}" y2="{bottom}" '
        'stroke="#333"/>',
        *body,
        f'<text x="{(left + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle" '
        f'font-size="12">{escape(x_label)}</text>',
        f'<text x="14" y="{(MARGIN["top"] + bottom) / 2:.0f}" text-anchor="middle" '
        f'font-size="12" transform="rotate(-90 14 {(MARGIN["top"] + bottom) / 2:.0f})">'
        f"{escape(y_label)}</text>",
        "</svg>",
    ]
    return "\n".join(parts)


def _plot_area():
    x0, x1 = MARGIN["left"], WIDTH - MARGIN["right"]
    y0, y1 = HEIGHT - MARGIN["bottom"], MARGIN["top"]
    return x0, x1, y0, y1


def _tick(x: float, y: float, label: str, axis: str) -> str:
    if axis == "x":
        return (f'<line x1="{x:.1f}" y1="{y}" x2="{x:.1f}" y2="{y + 4}" stroke="#333"/>'
                f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle" font-size="10">'
                f"{escape(label)}</text>")
    return (f'<line x1="{x - 4}" y1="{y:.1f}" x2="{x}" y2="{y:.1f}" stroke="#333"/>'
            f'<text x="{x - 6}" y="{y + 3:.1f}" text-anchor="end" font-size="10">'
            f"{escape(label)}</text>")


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def histogram(title: str, counts: list[int], lo: float, hi: float, marker: float | None,
              x_label: str, y_label: str = "sessions") -> str:
    """Bars over equal bins of [lo, hi]; `marker` draws a labelled vertical line."""
    x0, x1, y0, y1 = _plot_area()
    top = max(counts) if counts and max(counts) > 0 else 1
    width = (x1 - x0) / max(len(counts), 1)
    body = []
    for i, count in enumerate(counts):
        h = (y0 - y1) * count / top
        body.append(f'<rect x="{x0 + i * width:.1f}" y="{y0 - h:.1f}" '
                    f'width="{max(width - 1, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
                    f"<title>{count} sessions</title></rect>")
    for k in range(6):
        value = lo + (hi - lo) * k / 5
        body.append(_tick(x0 + (x1 - x0) * k / 5, y0, f"{value:.1f}", "x"))
    for k in range(5):
        body.append(_tick(x0, y0 - (y0 - y1) * k / 4, _fmt(top * k / 4), "y"))
    if marker is not None:
        x = x0 + (x1 - x0) * (marker - lo) / (hi - lo)
        body.append(f'<line x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y0}" stroke="{ACCENT}" '
                    'stroke-width="2" stroke-dasharray="5,3"/>')
        body.append(f'<text x="{x + 4:.1f}" y="{y1 + 12}" font-size="11" fill="{ACCENT}">'
                    f"threshold {marker:.3f}</text>")
    return _frame(title, body, x_label, y_label)


def line(title: str, points: list[tuple[float, float]], x_label: str, y_label: str,
         note: str = "") -> str:
    """A polyline over the unit square (e.g. a precision-recall curve)."""
    x0, x1, y0, y1 = _plot_area()
    body = []
    if points:
        coords = " ".join(f"{x0 + (x1 - x0) * x:.1f},{y0 - (y0 - y1) * y:.1f}"
                          for x, y in points)
        body.append(f'<polyline points="{coords}" fill="none" stroke="{BAR}" '
                    'stroke-width="2"/>')
    for k in range(6):
        body.append(_tick(x0 + (x1 - x0) * k / 5, y0, f"{k / 5:.1f}", "x"))
        body.append(_tick(x0, y0 - (y0 - y1) * k / 5, f"{k / 5:.1f}", "y"))
    if note:
        body.append(f'<text x="{x1 - 4}" y="{y1 + 12}" text-anchor="end" font-size="11">'
                    f"{escape(note)}</text>")
    return _frame(title, body, x_label, y_label)


def bars(title: str, labels: list[str], values: list[float], x_label: str,
         y_label: str) -> str:
    """Vertical bars with a label under each (dates, categories)."""
    x0, x1, y0, y1 = _plot_area()
    top = max(values) if values and max(values) > 0 else 1
    width = (x1 - x0) / max(len(values), 1)
    step = max(1, len(labels) // 10)
    body = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (y0 - y1) * value / top
        body.append(f'<rect x="{x0 + i * width + 1:.1f}" y="{y0 - h:.1f}" '
                    f'width="{max(width - 2, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
                    f"<title>{escape(label)}: {value:g}</title></rect>")
        if i % step == 0:
            body.append(_tick(x0 + (i + 0.5) * width, y0, label, "x"))
    for k in range(5):
        body.append(_tick(x0, y0 - (y0 - y1) * k / 4, _fmt(top * k / 4), "y"))
    return _frame(title, body, x_label, y_label)


def horizontal_bars(title: str, labels: list[str], values: list[float],
                    x_label: str) -> str:
    """Ranked horizontal bars with their labels on the left (top patterns)."""
    height = 30 + 22 * max(len(labels), 1)
    label_width = 260
    plot = WIDTH - label_width - 40
    top = max(values) if values and max(values) > 0 else 1
    body = [f'<svg class="chart" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}">',
            f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 10 + 22 * i
        w = plot * value / top
        short = label if len(label) <= 40 else label[:39] + "…"
        body.append(f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" '
                    f'font-size="11">{escape(short)}</text>')
        body.append(f'<rect x="{label_width}" y="{y}" width="{w:.1f}" height="16" '
                    f'fill="{BAR}"><title>{escape(label)}: {value:g}</title></rect>')
        body.append(f'<text x="{label_width + w + 4:.1f}" y="{y + 13}" font-size="11">'
                    f"{value:g}</text>")
    body.append(f'<text x="{label_width + plot / 2:.0f}" y="{height - 4}" '
                f'text-anchor="middle" font-size="12">{escape(x_label)}</text>')
    body.append("</svg>")
    return "\n".join(body)
