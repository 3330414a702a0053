"""Acceptance and override rates of cards, per service, active model version and override reason.

The unit is a stored feedback report (one per card, outcome and outcomeTimestamp). A decision made
with several active models counts under each of them; feedback on cards without a model counts under
``model = null``. Shadow models are never credited: their outputs were not shown.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import select

from cds_server.persistence.database import Database
from cds_server.persistence.models import DecisionCard
from cds_server.persistence.models import DecisionModel
from cds_server.persistence.models import Feedback


@dataclass(frozen=True)
class ReasonCount:
    system: str | None
    code: str | None
    display: str | None
    count: int


@dataclass
class FeedbackRates:
    service_id: str
    model_id: str | None
    model_version: str | None
    accepted: int = 0
    overridden: int = 0
    override_reasons: list[ReasonCount] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.overridden

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.total if self.total else 0.0

    @property
    def override_rate(self) -> float:
        return self.overridden / self.total if self.total else 0.0

    def as_json(self) -> dict[str, Any]:
        model = {"id": self.model_id, "version": self.model_version} if self.model_id else None
        return {
            "serviceId": self.service_id,
            "model": model,
            "feedback": self.total,
            "accepted": self.accepted,
            "overridden": self.overridden,
            "acceptanceRate": round(self.acceptance_rate, 4),
            "overrideRate": round(self.override_rate, 4),
            "overrideReasons": [
                {"system": r.system, "code": r.code, "display": r.display, "count": r.count}
                for r in self.override_reasons
            ],
        }


def feedback_rates(
    database: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    service_id: str | None = None,
) -> list[FeedbackRates]:
    """Rates over feedback whose ``outcomeTimestamp`` is in ``[since, until)``, busiest group first.

    :raise DatabaseUnavailable: the database cannot be read (503).
    """
    statement = (
        select(
            Feedback.service_id,
            DecisionModel.model_id,
            DecisionModel.version,
            Feedback.outcome,
            Feedback.reason_system,
            Feedback.reason_code,
            func.max(Feedback.reason_display),
            func.count(),
        )
        .join(DecisionCard, Feedback.decision_card_id == DecisionCard.id)
        .outerjoin(
            DecisionModel,
            and_(DecisionModel.decision_id == DecisionCard.decision_id, DecisionModel.role == "active"),
        )
        .group_by(
            Feedback.service_id,
            DecisionModel.model_id,
            DecisionModel.version,
            Feedback.outcome,
            Feedback.reason_system,
            Feedback.reason_code,
        )
    )
    if since is not None:
        statement = statement.where(Feedback.outcome_timestamp >= since)
    if until is not None:
        statement = statement.where(Feedback.outcome_timestamp < until)
    if service_id is not None:
        statement = statement.where(Feedback.service_id == service_id)
    with database.read() as session:
        rows = session.execute(statement).all()
    groups: dict[tuple[str, str | None, str | None], FeedbackRates] = {}
    reasons: dict[tuple[str, str | None, str | None], list[ReasonCount]] = defaultdict(list)
    for service, model_id, version, outcome, system, code, display, count in rows:
        key: tuple[str, str | None, str | None] = (service, model_id, version)
        rates = groups.setdefault(key, FeedbackRates(service, model_id, version))
        if outcome == "accepted":
            rates.accepted += count
            continue
        rates.overridden += count
        if system is not None or code is not None:
            reasons[key].append(ReasonCount(system, code, display, count))
    for key, counted in reasons.items():
        groups[key].override_reasons = sorted(counted, key=lambda r: (-r.count, r.system or "", r.code or ""))
    return sorted(
        groups.values(),
        key=lambda g: (-g.total, g.service_id, g.model_id or "", g.model_version or ""),
    )
