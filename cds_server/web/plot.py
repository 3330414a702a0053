"""A trend as an SVG line chart, drawn by hand: no plotting library for one polyline and two axes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36


def trend_svg(
    points: Sequence[tuple[datetime, float | None]],
    *,
    title: str,
    percent: bool,
    thresholds: Sequence[tuple[float, str]] = (),
) -> str:
    """``points``: (time, value or None when not scored); ``thresholds``: (value, label), drawn dashed."""
    scored = [(t, v) for t, v in points if v is not None and math.isfinite(v)]
    label = escape(title)
    if not scored:
        return (
            f'<svg xmlns="{SVG_NS}" width="{WIDTH}" height="60" role="img" aria-label="{label}">'
            f'<title>{label}</title><text x="8" y="30">No time point could be scored.</text></svg>'
        )
    times = [t.timestamp() for t, _ in scored]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t0, t1 = t0 - 86400, t1 + 86400
    top_value = max([v for _, v in scored] + [value for value, _ in thresholds if value < 1e9]) * 1.15 or 1.0
    step = _nice_step(top_value / 4)
    y_max = step * math.ceil(top_value / step)

    def x(moment: float) -> float:
        return LEFT + (moment - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return HEIGHT - BOTTOM - value / y_max * (HEIGHT - TOP - BOTTOM)

    def fmt(value: float) -> str:
        return f"{value * 100:.0f} %" if percent else f"{value:g}"

    parts = [
        f'<svg xmlns="{SVG_NS}" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{label}" font-family="sans-serif" font-size="11">',
        f"<title>{label}</title>",
    ]
    tick = 0.0
    while tick <= y_max + 1e-12:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e5e5e5"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#555">{fmt(tick)}</text>'
        )
        tick += step
    for value, name in thresholds:
        if 0 < value <= y_max:
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                f'stroke="#b45309" stroke-dasharray="4 3"/>'
                f'<text x="{WIDTH - RIGHT - 2}" y="{y(value) - 3:.1f}" text-anchor="end" fill="#b45309">'
                f"{escape(name)}</text>"
            )
    first, last = scored[0][0], scored[-1][0]
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 12}" fill="#555">{first.date().isoformat()}</text>'
        f'<text x="{WIDTH - RIGHT}" y="{HEIGHT - 12}" text-anchor="end" fill="#555">'
        f"{last.date().isoformat()}</text>"
    )
    line = " ".join(f"{x(t.timestamp()):.1f},{y(v):.1f}" for t, v in scored)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1d4ed8" stroke-width="2"/>')
    for t, v in scored:
        parts.append(
            f'<circle cx="{x(t.timestamp()):.1f}" cy="{y(v):.1f}" r="3.5" fill="#1d4ed8">'
            f"<title>{t.date().isoformat()}: {fmt(v) if not percent else f'{v * 100:.1f} %'}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    magnitude = float(10 ** math.floor(math.log10(raw)))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude
