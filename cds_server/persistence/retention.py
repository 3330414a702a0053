"""Retention: a decision's inputs (features with provenance, PHI) are cleared after N days.

Only ``decision.inputs`` is cleared; ``inputs_sha256`` stays, so what went into a decision can still be
checked against a copy kept elsewhere. Audit rows, cards (a replay still answers), outputs, models and
feedback are kept. Rows are cleared in batches of :data:`BATCH` so no transaction locks many rows for
long while the server keeps recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from cds_server.persistence.models import Decision
from cds_server.persistence.store import Clock
from cds_server.persistence.store import utc_now

BATCH = 1000


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    decisions: int
    dry_run: bool


def purge_decision_inputs(
    engine: Engine, *, older_than_days: int, dry_run: bool = False, clock: Clock = utc_now
) -> PurgeReport:
    """Clear the inputs of decisions created before ``now - older_than_days``.

    :raise ValueError: ``older_than_days`` is negative.
    """
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    now = clock()
    cutoff = now - timedelta(days=older_than_days)
    due = (Decision.created_at < cutoff) & Decision.inputs.is_not(None)
    if dry_run:
        with engine.connect() as connection:
            count = connection.execute(select(func.count()).select_from(Decision).where(due)).scalar_one()
        return PurgeReport(cutoff, int(count), dry_run=True)
    cleared = 0
    while True:
        with engine.begin() as connection:
            next_batch = select(Decision.id).where(due).order_by(Decision.id).limit(BATCH)
            batch = list(connection.execute(next_batch).scalars())
            if batch:
                connection.execute(
                    update(Decision).where(Decision.id.in_(batch)).values(inputs=None, inputs_purged_at=now)
                )
        cleared += len(batch)
        if len(batch) < BATCH:
            return PurgeReport(cutoff, cleared, dry_run=False)
