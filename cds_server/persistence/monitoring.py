"""Read-only queries behind the dashboard and the scrape-time metrics, each bounded by a time window.

Every query reads at most ``limit`` of the most recent rows of its window (newest first, by the
indexed time column), so a dashboard over a busy month costs the same as one over an hour; the
callers say when a limit was reached. Nothing here writes, and nothing returns patient or user
references: calls come back as service, hook, status, latency and model; inputs as numbers only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from cds_server.jobs.states import JobStatus
from cds_server.persistence.database import Database
from cds_server.persistence.job_tables import Job
from cds_server.persistence.models import AuditEvent
from cds_server.persistence.models import Decision
from cds_server.persistence.models import DecisionModel


@dataclass(frozen=True)
class CallRow:
    """One audited hook call, without who or whom."""

    recorded_at: datetime
    service_id: str
    hook: str
    status: int
    latency_ms: float
    #: ``"<model id> <version>"`` of the active model behind the answer, if any
    model: str | None


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    #: most rows any one query reads
    limit: int


def recent_calls(database: Database, window: Window) -> list[CallRow]:
    """Audited calls recorded in the window, newest first (at most ``window.limit``).

    :raise DatabaseUnavailable: the database cannot be read (503).
    """
    statement = (
        select(
            AuditEvent.recorded_at,
            AuditEvent.service_id,
            AuditEvent.hook,
            AuditEvent.status,
            AuditEvent.latency_ms,
            AuditEvent.models,
        )
        .where(AuditEvent.recorded_at >= window.since, AuditEvent.recorded_at < window.until)
        .order_by(AuditEvent.recorded_at.desc())
        .limit(window.limit)
    )
    with database.read() as session:
        rows = session.execute(statement).all()
    return [
        CallRow(row.recorded_at, row.service_id, row.hook, row.status, row.latency_ms, _active(row.models))
        for row in rows
    ]


def model_input_rows(database: Database, model_id: str, window: Window) -> list[list[float | None]]:
    """The input vectors (in the model card's input order) of decisions the model's active version
    made in the window; decisions whose inputs the retention purge cleared are left out."""
    values = Decision.inputs["values"]
    statement = (
        select(values)
        .join(DecisionModel, _active_run_of(model_id))
        .where(Decision.created_at >= window.since, Decision.created_at < window.until)
        .where(Decision.inputs.is_not(None))
        .order_by(Decision.created_at.desc())
        .limit(window.limit)
    )
    with database.read() as session:
        rows = session.execute(statement).scalars().all()
    return [_numbers(row) for row in rows if isinstance(row, list)]


def model_outputs(database: Database, model_id: str, window: Window) -> list[dict[str, Any]]:
    """The recorded outputs (``{"active": ..., "shadow": [...]}``) of the model's decisions in the window."""
    statement = (
        select(Decision.outputs)
        .join(DecisionModel, _active_run_of(model_id))
        .where(Decision.created_at >= window.since, Decision.created_at < window.until)
        .where(Decision.outputs.is_not(None))
        .order_by(Decision.created_at.desc())
        .limit(window.limit)
    )
    with database.read() as session:
        rows = session.execute(statement).scalars().all()
    return [row for row in rows if isinstance(row, dict)]


def job_counts(database: Database, *, since: datetime) -> dict[tuple[str, str], int]:
    """``{(kind, status): count}`` of unfinished jobs and of jobs created since ``since``."""
    unfinished = [JobStatus.QUEUED.value, JobStatus.RUNNING.value]
    statement = (
        select(Job.kind, Job.status, func.count())
        .where(or_(Job.status.in_(unfinished), Job.created_at >= since))
        .group_by(Job.kind, Job.status)
    )
    with database.read() as session:
        rows = session.execute(statement).all()
    return {(kind, status): int(count) for kind, status, count in rows}


def _active_run_of(model_id: str) -> Any:
    return and_(
        DecisionModel.decision_id == Decision.id,
        DecisionModel.role == "active",
        DecisionModel.model_id == model_id,
    )


def _active(models: Sequence[Any] | None) -> str | None:
    for model in models or ():
        if isinstance(model, dict) and model.get("role", "active") == "active":
            return f"{model.get('model_id')} {model.get('version')}"
    return None


def _numbers(row: Sequence[Any]) -> list[float | None]:
    return [float(value) if isinstance(value, int | float) else None for value in row]
