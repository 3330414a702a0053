"""What the operator's dashboard shows over one time window, gathered from the database and the models.

Calls, outcomes and latency per service, hook and active model version (audit trail); acceptance and
override rates per service and model version (feedback); input drift of each model's active version
against the reference distribution in its model card (PSI, bands 0.1 / 0.25); and, for models with
shadow versions, how the shadow would have answered the same calls. Every query is bounded by the
window and a row limit (:mod:`cds_server.persistence.monitoring`); the numbers are computed by the
pure functions of :mod:`cds_server.monitoring`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from cds_server.inference import ModelRegistry
from cds_server.inference.results import ModelStatus
from cds_server.monitoring.calls import CallSummary
from cds_server.monitoring.calls import calls_over_time
from cds_server.monitoring.calls import summarise_calls
from cds_server.monitoring.drift import DriftResult
from cds_server.monitoring.drift import drift_of
from cds_server.monitoring.shadow import ShadowComparison
from cds_server.monitoring.shadow import compare
from cds_server.persistence.analytics import FeedbackRates
from cds_server.persistence.analytics import feedback_rates
from cds_server.persistence.database import Database
from cds_server.persistence.monitoring import Window
from cds_server.persistence.monitoring import job_counts
from cds_server.persistence.monitoring import model_input_rows
from cds_server.persistence.monitoring import model_outputs
from cds_server.persistence.monitoring import recent_calls

#: most audited calls read for one dashboard; most decisions read per model for drift and shadows
CALL_LIMIT = 20_000
DECISION_LIMIT = 2_000
SERIES_BUCKETS = 24


@dataclass(frozen=True)
class ModelDrift:
    model_id: str
    version: str
    decisions: int
    capped: bool
    features: tuple[DriftResult, ...]

    @property
    def worst(self) -> DriftResult | None:
        scored = [f for f in self.features if f.psi is not None]
        return max(scored, key=lambda f: f.psi or 0.0) if scored else None


@dataclass(frozen=True)
class Dashboard:
    window: Window
    calls: tuple[CallSummary, ...]
    calls_read: int
    series_starts: tuple[datetime, ...]
    series: dict[str, list[int]]
    feedback: tuple[FeedbackRates, ...]
    drift: tuple[ModelDrift, ...]
    shadows: tuple[tuple[str, ShadowComparison], ...]
    models: dict[str, ModelStatus]
    jobs: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def calls_capped(self) -> bool:
        return self.calls_read >= CALL_LIMIT

    def as_json(self) -> dict[str, Any]:
        return {
            "window": {"since": _instant(self.window.since), "until": _instant(self.window.until)},
            "calls": {
                "read": self.calls_read,
                "capped": self.calls_capped,
                "groups": [summary.as_dict() for summary in self.calls],
                "series": {
                    "starts": [_instant(start) for start in self.series_starts],
                    "counts": self.series,
                },
            },
            "feedback": [rates.as_json() for rates in self.feedback],
            "drift": [
                {
                    "model": drift.model_id,
                    "version": drift.version,
                    "decisions": drift.decisions,
                    "capped": drift.capped,
                    "features": [feature.as_dict() for feature in drift.features],
                }
                for drift in self.drift
            ],
            "shadow": [{"model": model_id, **comparison.as_dict()} for model_id, comparison in self.shadows],
            "jobs": [
                {"kind": kind, "status": status, "count": count}
                for (kind, status), count in sorted(self.jobs.items())
            ],
            "models": {
                model_id: {
                    "ready": status.ready,
                    "activeVersion": status.active_version,
                    "provider": status.provider,
                    "shadow": [shadow.as_dict() for shadow in status.shadow],
                }
                for model_id, status in sorted(self.models.items())
            },
        }


def build_dashboard(
    database: Database, models: ModelRegistry, *, since: datetime, until: datetime
) -> Dashboard:
    """:raise DatabaseUnavailable: the database cannot be read (503)."""
    calls = recent_calls(database, Window(since, until, CALL_LIMIT))
    starts, series = calls_over_time(calls, since=since, until=until, buckets=SERIES_BUCKETS)
    statuses = models.status()
    decisions = Window(since, until, DECISION_LIMIT)
    return Dashboard(
        window=Window(since, until, CALL_LIMIT),
        calls=tuple(summarise_calls(calls)),
        calls_read=len(calls),
        series_starts=tuple(starts),
        series=series,
        feedback=tuple(feedback_rates(database, since=since, until=until)),
        drift=tuple(_drift(database, models, model_id, decisions) for model_id in sorted(statuses)),
        shadows=tuple(
            (model_id, comparison)
            for model_id, status in sorted(statuses.items())
            if status.shadow
            for comparison in _shadow(database, models, model_id, decisions)
        ),
        models=statuses,
        jobs=job_counts(database, since=since),
    )


def _drift(database: Database, models: ModelRegistry, model_id: str, window: Window) -> ModelDrift:
    card = models.card(model_id)
    rows = model_input_rows(database, model_id, window)
    documents = card.as_dict()["inputs"]
    features = []
    for index, document in enumerate(documents):
        values = [row[index] for row in rows if index < len(row) and row[index] is not None]
        reference = document.get("reference_distribution")
        features.append(drift_of(document["name"], [float(v) for v in values if v is not None], reference))
    return ModelDrift(model_id, card.version, len(rows), len(rows) >= window.limit, tuple(features))


def _shadow(
    database: Database, models: ModelRegistry, model_id: str, window: Window
) -> list[ShadowComparison]:
    """One comparison per (shadow version, output) over the calls both versions scored."""
    card = models.card(model_id)
    pairs: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for document in model_outputs(database, model_id, window):
        active = document.get("active") or {}
        active_outputs = active.get("outputs") or {}
        for shadow in document.get("shadow") or []:
            for name, value in (shadow.get("outputs") or {}).items():
                reference = active_outputs.get(name)
                if isinstance(value, int | float) and isinstance(reference, int | float):
                    key = (str(active.get("version")), str(shadow.get("version")), name)
                    pairs.setdefault(key, []).append((float(reference), float(value)))
    comparisons = []
    for (active_version, shadow_version, output), values in sorted(pairs.items()):
        thresholds = [t.value for t in card.thresholds if t.output == output]
        comparisons.append(compare(output, active_version, shadow_version, values, thresholds=thresholds))
    return comparisons


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
