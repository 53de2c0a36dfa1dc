"""Small inline-SVG charts: enough axes and labels to read, nothing to download."""

from __future__ import annotations

import math
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
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:.2g}"


def nice_ticks(top: float, count: int = 4) -> list[float]:
    """Axis ticks from 0 in steps of 1, 2, 2.5 or 5 x 10^k reaching at least `top`.

    Counts get whole-number steps, so an axis never reads 0, 45, 90, 134, 179."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if top >= 1:
        step = max(1.0, float(math.ceil(step)))
    n = math.ceil(top / step - 1e-9)
    return [k * step for k in range(n + 1)]


def _y_ticks(x0: float, y0: float, y1: float, counts) -> tuple[list[str], float]:
    """The y axis of a count chart: tick marks and the axis maximum they imply."""
    ticks = nice_ticks(max(counts) if counts else 0)
    top = ticks[-1]
    return [_tick(x0, y0 - (y0 - y1) * t / top, _fmt(t), "y") for t in ticks], top


def histogram(title: str, counts: list[int], lo: float, hi: float, marker: float | None,
              x_label: str, y_label: str = "sessions") -> str:
    """Bars over equal bins of [lo, hi]; `marker` draws a labelled vertical line."""
    x0, x1, y0, y1 = _plot_area()
    body, top = _y_ticks(x0, y0, y1, counts)
    width = (x1 - x0) / max(len(counts), 1)
    for i, count in enumerate(counts):
        h = (y0 - y1) * count / top
        body.append(f'<rect x="{x0 + i * width:.1f}" y="{y0 - h:.1f}" '
                    f'width="{max(width - 1, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
                    f"<title>{count} sessions</title></rect>")
    for k in range(6):
        value = lo + (hi - lo) * k / 5
        body.append(_tick(x0 + (x1 - x0) * k / 5, y0, f"{value:.1f}", "x"))
    if marker is not None:
        x = x0 + (x1 - x0) * (min(max(marker, lo), hi) - lo) / (hi - lo)
        body.append(f'<line x1="{x:.1f}" y1="{y1}" x2="{x:.1f}" y2="{y0}" stroke="{ACCENT}" '
                    'stroke-width="2" stroke-dasharray="5,3"/>')
        # the label goes on the side with room, so it never runs off the chart
        right = x < x0 + (x1 - x0) * 0.7
        body.append(f'<text x="{x + 4 if right else x - 4:.1f}" y="{y1 + 12}" font-size="11" '
                    f'text-anchor="{"start" if right else "end"}" fill="{ACCENT}">'
                    f"threshold {marker:.3f}</text>")
    return _frame(title, body, x_label, y_label)


def line(title: str, points: list[tuple[float, float]], x_label: str, y_label: str,
         note: str = "", point: tuple[float, float] | None = None,
         point_label: str = "", steps: bool = False) -> str:
    """A curve over the unit square (e.g. a precision-recall curve), drawn through the
    points in their order; `steps` holds each y until the next x (a PR curve's shape, as
    average precision sums it). `point` marks one position (e.g. the operating point at
    the threshold); `note` and `point_label` form a legend in the lower left corner."""
    x0, x1, y0, y1 = _plot_area()
    body = []

    def xy(x: float, y: float) -> str:
        return f"{x0 + (x1 - x0) * x:.1f},{y0 - (y0 - y1) * y:.1f}"

    if points:
        path = [points[0]]
        for x, y in points[1:]:
            if steps:
                path.append((x, path[-1][1]))
            path.append((x, y))
        body.append(f'<polyline points="{" ".join(xy(x, y) for x, y in path)}" fill="none" '
                    f'stroke="{BAR}" stroke-width="2"/>')
    else:
        body.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{(y0 + y1) / 2:.0f}" '
                    'text-anchor="middle" font-size="12" fill="#777">no labelled test split'
                    "</text>")
    if point is not None:
        body.append(f'<circle cx="{xy(*point).split(",")[0]}" cy="{xy(*point).split(",")[1]}" '
                    f'r="4.5" fill="{ACCENT}"/>')
    for k in range(6):
        body.append(_tick(x0 + (x1 - x0) * k / 5, y0, f"{k / 5:.1f}", "x"))
        body.append(_tick(x0, y0 - (y0 - y1) * k / 5, f"{k / 5:.1f}", "y"))
    # the legend sits in the lower left, where a PR curve rarely goes
    legend = [(None, note)] if note else []
    if point is not None and point_label:
        legend.append((ACCENT, point_label))
    for i, (colour, text) in enumerate(reversed(legend)):
        y = y0 - 10 - 16 * i
        if colour:
            body.append(f'<circle cx="{x0 + 14}" cy="{y - 4}" r="4.5" fill="{colour}"/>')
        body.append(f'<text x="{x0 + 24 if colour else x0 + 10}" y="{y}" font-size="11" '
                    f'fill="{colour or "#222"}">{escape(text)}</text>')
    return _frame(title, body, x_label, y_label)


def bars(title: str, labels: list[str], values: list[float], x_label: str,
         y_label: str) -> str:
    """Vertical bars; labels under every k-th bar, k chosen so the labels never overlap."""
    x0, x1, y0, y1 = _plot_area()
    body, top = _y_ticks(x0, y0, y1, values)
    width = (x1 - x0) / max(len(values), 1)
    longest = max((len(label) for label in labels), default=1)
    step = max(1, math.ceil((longest * 6.5 + 8) / width))  # ~6.5 px per 10px-font character
    if not values:
        body.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{(y0 + y1) / 2:.0f}" '
                    'text-anchor="middle" font-size="12" fill="#777">nothing flagged</text>')
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = (y0 - y1) * value / top
        body.append(f'<rect x="{x0 + i * width + 1:.1f}" y="{y0 - h:.1f}" '
                    f'width="{max(width - 2, 1):.1f}" height="{h:.1f}" fill="{BAR}">'
                    f"<title>{escape(label)}: {value:g}</title></rect>")
        if i % step == 0:
            body.append(_tick(x0 + (i + 0.5) * width, y0, label, "x"))
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
    if not values:
        body.append(f'<text x="{WIDTH / 2:.0f}" y="24" text-anchor="middle" font-size="12" '
                    'fill="#777">no flagged sessions with explanations</text>')
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
