"""The dashboard's numbers as the page shows them: formatted cells and the SVG charts beside them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from cds_server.monitoring.drift import MODERATE
from cds_server.monitoring.drift import STABLE
from cds_server.monitoring.shadow import ShadowComparison
from cds_server.web.charts import PALETTE
from cds_server.web.charts import bar_chart
from cds_server.web.charts import paired_histogram
from cds_server.web.charts import series_chart
from cds_server.web.dashboard import Dashboard
from cds_server.web.dashboard import ModelDrift

BAND_COLOURS = {
    "stable": "#1b7a34",
    "moderate": "#b26b00",
    "significant": "#c62828",
    "insufficient-data": "#9aa4ae",
    "no-reference": "#9aa4ae",
}
BAND_WORDS = {
    "stable": "stable",
    "moderate": "moderate shift",
    "significant": "major shift",
    "insufficient-data": "too few calls",
    "no-reference": "no reference",
}


@dataclass(frozen=True)
class ModelDriftView:
    model_id: str
    version: str
    decisions: int
    capped: bool
    chart: str
    rows: list[dict[str, str]]
    #: (feature, chart) for each feature that moved: live deciles against the reference
    shifted: list[tuple[str, str]]


def dashboard_view(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "since": dashboard.window.since,
        "until": dashboard.window.until,
        "calls_read": dashboard.calls_read,
        "calls_capped": dashboard.calls_capped,
        "series_chart": series_chart(
            dashboard.series_starts, dashboard.series, title="Hook calls per service over the window"
        ),
        "calls": [
            {
                "service": s.service_id,
                "hook": s.hook,
                "model": s.model or "—",
                "calls": s.calls,
                "ok": s.ok,
                "client_errors": s.client_errors,
                "server_errors": s.server_errors,
                "p50": _ms(s.p50_ms),
                "p95": _ms(s.p95_ms),
                "p99": _ms(s.p99_ms),
            }
            for s in dashboard.calls
        ],
        "latency_chart": bar_chart(
            [
                (f"{s.service_id} · {s.hook}", s.p95_ms, f"{_ms(s.p95_ms)} ms", PALETTE[0])
                for s in dashboard.calls
            ],
            title="95th percentile latency per service and hook (ms)",
        )
        if dashboard.calls
        else "",
        "feedback": [
            {
                "service": rates.service_id,
                "model": f"{rates.model_id} {rates.model_version}" if rates.model_id else "—",
                "total": rates.total,
                "accepted": rates.accepted,
                "overridden": rates.overridden,
                "acceptance": _percent(rates.acceptance_rate),
                "override": _percent(rates.override_rate),
                "reasons": ", ".join(
                    f"{r.display or r.code} ({r.count})" for r in rates.override_reasons[:3]
                ),
            }
            for rates in dashboard.feedback
        ],
        "feedback_chart": bar_chart(
            [
                (rates.service_id, rates.acceptance_rate, _percent(rates.acceptance_rate), PALETTE[2])
                for rates in dashboard.feedback
            ],
            title="Share of feedback that accepted the card, per service",
            top_value=1.0,
        )
        if dashboard.feedback
        else "",
        "drift": [_drift_view(drift) for drift in dashboard.drift],
        "shadows": [_shadow_view(model_id, comparison) for model_id, comparison in dashboard.shadows],
        "jobs": [
            {"kind": kind, "status": status, "count": count}
            for (kind, status), count in sorted(dashboard.jobs.items())
        ],
        "models": [
            {
                "id": model_id,
                "version": status.active_version or "—",
                "provider": status.provider or "—",
                "ready": status.ready,
                "reason": status.reason or "",
                "shadow": ", ".join(s.version for s in status.shadow) or "—",
            }
            for model_id, status in sorted(dashboard.models.items())
        ],
    }


def _drift_view(drift: ModelDrift) -> ModelDriftView:
    features = drift.features
    bars = [
        (
            f.feature,
            f.psi if f.psi is not None else math.nan,
            f"{f.psi:.3f}" if f.psi is not None else BAND_WORDS[f.band],
            BAND_COLOURS[f.band],
        )
        for f in features
    ]
    # beyond 1 every shift is major: a longer axis would squeeze the 0.1 and 0.25 marks together
    top = 0.5 if all((f.psi or 0.0) <= 0.5 for f in features) else 1.0
    title = f"Population stability index per input of {drift.model_id} {drift.version}"
    marks = ((STABLE, "0.1"), (MODERATE, "0.25"))
    # a chart of bars that cannot be drawn says less than the table beside it
    scored = any(f.psi is not None for f in features)
    chart = bar_chart(bars, title=title, top_value=top, marks=marks) if scored else ""
    rows = [
        {
            "feature": f.feature,
            "psi": f"{f.psi:.3f}" if f.psi is not None else "—",
            "band": f.band,
            "words": BAND_WORDS[f.band],
            "n": str(f.live_count),
        }
        for f in features
    ]
    shifted = [
        (
            f.feature,
            paired_histogram(
                _bin_labels(len(f.reference_shares)),
                f.reference_shares,
                f.live_shares,
                names=("reference population", "live inputs"),
                title=f"{f.feature}: live inputs in the reference population's bins",
                percent=True,
                width=380,
            ),
        )
        for f in features
        if f.band in ("moderate", "significant")
    ]
    return ModelDriftView(drift.model_id, drift.version, drift.decisions, drift.capped, chart, rows, shifted)


def _shadow_view(model_id: str, comparison: ShadowComparison) -> dict[str, Any]:
    edges = comparison.bin_edges
    labels = _edge_labels(edges)
    return {
        "model": model_id,
        "output": comparison.output,
        "active": comparison.active_version,
        "shadow": comparison.shadow_version,
        "pairs": comparison.pairs,
        "agreement": _percent(comparison.band_agreement) if comparison.band_agreement is not None else "—",
        "mad": _number(comparison.mean_absolute_difference),
        "max": _number(comparison.max_absolute_difference),
        "correlation": _number(comparison.correlation),
        "chart": paired_histogram(
            labels,
            comparison.active_histogram,
            comparison.shadow_histogram,
            names=(f"active {comparison.active_version}", f"shadow {comparison.shadow_version}"),
            title=f"{model_id} {comparison.output}: distribution of active and shadow outputs",
        )
        if comparison.pairs
        else "",
    }


def _edge_labels(edges: tuple[float, ...]) -> list[str]:
    """The lower edges of the first, middle and last bins (the others blank, so labels never collide),
    with enough decimals to tell them apart."""
    if len(edges) < 2:
        return []
    shown = {0, (len(edges) - 1) // 2, len(edges) - 2}
    spread = abs(edges[-2] - edges[0]) or 1.0
    decimals = min(8, max(0, 2 - math.floor(math.log10(spread))))
    return [f"{edge:.{decimals}f}" if index in shown else "" for index, edge in enumerate(edges[:-1])]


def _bin_labels(count: int) -> list[str]:
    if count == 2:
        return ["0", "1"]
    return [f"d{index + 1}" for index in range(count)]


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def _percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"
