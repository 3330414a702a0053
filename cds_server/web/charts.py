"""Small SVG charts for the dashboard, drawn by hand like :mod:`cds_server.web.plot`: no plotting
library, no script, nothing fetched by the browser. Every chart has a ``<title>`` and an aria label,
and every value is also in a table beside it, so colour is never the only carrier of meaning."""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from html import escape

from cds_server.web.plot import SVG_NS

#: Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
FONT = 'font-family="sans-serif" font-size="11"'


def _open(width: int, height: int, label: str) -> list[str]:
    text = escape(label)
    return [
        f'<svg xmlns="{SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{text}" {FONT}>',
        f"<title>{text}</title>",
    ]


def _nice_top(value: float) -> float:
    if value <= 0 or not math.isfinite(value):
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def series_chart(
    starts: Sequence[datetime], series: Mapping[str, Sequence[int]], *, title: str, width: int = 720
) -> str:
    """Counts per time slice, one line per series, with a legend under the plot."""
    height, left, right, top, bottom = 220, 44, 12, 12, 40
    parts = _open(width, height + 18 * math.ceil(len(series) / 3), title)
    top_value = _nice_top(max((max(values) for values in series.values() if values), default=0))
    plot_w, plot_h = width - left - right, height - top - bottom
    slices = max(len(starts), 1)

    def x(index: int) -> float:
        return left + (index + 0.5) / slices * plot_w

    def y(value: float) -> float:
        return top + plot_h - value / top_value * plot_h

    for step in range(5):
        value = top_value * step / 4
        level = y(value)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{level:.1f}" y2="{level:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{level + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>'
        )
    if starts:
        for index, anchor in ((0, "start"), (len(starts) // 2, "middle"), (len(starts) - 1, "end")):
            parts.append(
                f'<text x="{x(index):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" fill="#555">'
                f"{starts[index].strftime('%m-%d %H:%M')}</text>"
            )
    for number, (name, values) in enumerate(series.items()):
        colour = PALETTE[number % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        lx, ly = left + (number % 3) * (plot_w / 3), height + 4 + 18 * (number // 3)
        parts.append(
            f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16:.1f}" y="{ly + 10}" fill="#222">{escape(name)}</text>'
        )
    if not series:
        parts.append(f'<text x="{left + 8}" y="{top + 20}" fill="#555">No calls in this window.</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    rows: Sequence[tuple[str, float, str, str]],
    *,
    title: str,
    top_value: float | None = None,
    marks: Sequence[tuple[float, str]] = (),
    width: int = 520,
) -> str:
    """Horizontal bars: (label, value, value text, colour); ``marks`` are dashed reference lines."""
    # room for the longest label at ~6.5 px per character of the 11 px font
    label_w = min(300, max(80, round(6.5 * max((len(label) for label, *_ in rows), default=0)) + 12))
    right, bar_h, gap = 90, 16, 6
    height = 28 + len(rows) * (bar_h + gap)
    parts = _open(width, height, title)
    finite = [value for _, value, _, _ in rows if math.isfinite(value)]
    top_value = top_value or _nice_top(max(finite + [mark for mark, _ in marks], default=0))
    plot_w = width - label_w - right

    def x(value: float) -> float:
        return label_w + min(max(value, 0.0), top_value) / top_value * plot_w

    for index, (label, value, text, colour) in enumerate(rows):
        y = 18 + index * (bar_h + gap)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" fill="#222">{escape(label)}</text>'
        )
        if math.isfinite(value):
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{max(x(value) - label_w, 1):.1f}" height="{bar_h}" '
                f'fill="{colour}"/>'
            )
        end = x(value) if math.isfinite(value) else label_w
        # a bar that runs off the axis says so
        more = " &#8250;" if math.isfinite(value) and value > top_value else ""
        parts.append(f'<text x="{end + 4:.1f}" y="{y + 12}" fill="#222">{escape(text)}{more}</text>')
    for value, name in marks:
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="12" y2="{height - 4}" stroke="#555" '
            f'stroke-dasharray="4 3"/><text x="{x(value):.1f}" y="10" text-anchor="middle" fill="#555">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def paired_histogram(
    bin_labels: Sequence[str],
    first: Sequence[float],
    second: Sequence[float],
    *,
    names: tuple[str, str],
    title: str,
    percent: bool = False,
    width: int = 520,
) -> str:
    """Two distributions over the same bins, side by side in each bin (counts, or shares with ``percent``)."""
    height, left, right, top, bottom = 190, 40, 10, 24, 34
    parts = _open(width, height, title)
    top_value = _nice_top(max([*first, *second], default=0))
    bins = max(len(bin_labels), 1)
    slot = (width - left - right) / bins
    plot_h = height - top - bottom
    for step in range(3):
        value = top_value * step / 2
        y = top + plot_h - value / top_value * plot_h
        text = f"{value:.0%}" if percent else f"{value:g}"
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{text}</text>'
        )
    for index, label in enumerate(bin_labels):
        for offset, (values, colour) in enumerate(((first, PALETTE[0]), (second, PALETTE[1]))):
            value = values[index] if index < len(values) else 0
            bar = value / top_value * plot_h
            x = left + index * slot + slot * (0.1 + 0.4 * offset)
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{bar:.1f}" fill="{colour}"/>'
            )
        if bins <= 12 or index % 2 == 0:
            parts.append(
                f'<text x="{left + (index + 0.5) * slot:.1f}" y="{height - bottom + 14}" '
                f'text-anchor="middle" fill="#555">{escape(label)}</text>'
            )
    for offset, (name, colour) in enumerate(zip(names, PALETTE[:2], strict=True)):
        parts.append(
            f'<rect x="{left + offset * 170}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + offset * 170 + 16}" y="16" fill="#222">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
