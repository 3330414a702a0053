"""Retention of what jobs keep: an asynchronous job's snapshot (the prefetch it was handed, PHI) is
cleared once the job has been finished for the retention period (``cds-server db purge``).

The job's summary and result rows stay: they are the result the service shows and the owner reads.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from cds_server.jobs.states import TERMINAL_JOB
from cds_server.jobs.store import Clock
from cds_server.jobs.store import utc_now
from cds_server.persistence.job_tables import Job

BATCH = 1000


def purge_job_snapshots(
    engine: Engine, *, older_than_days: int, dry_run: bool = False, clock: Clock = utc_now
) -> int:
    """Clear the snapshots of jobs that finished before ``now - older_than_days``; returns how many."""
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    cutoff = clock() - timedelta(days=older_than_days)
    due = (
        Job.status.in_([s.value for s in TERMINAL_JOB])
        & (Job.finished_at < cutoff)
        & Job.snapshot.is_not(None)
    )
    if dry_run:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(Job).where(due)).scalar_one())
    cleared = 0
    while True:
        with engine.begin() as connection:
            batch = list(connection.execute(select(Job.id).where(due).limit(BATCH)).scalars())
            if batch:
                connection.execute(update(Job).where(Job.id.in_(batch)).values(snapshot=None))
        cleared += len(batch)
        if len(batch) < BATCH:
            return cleared
