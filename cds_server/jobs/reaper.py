"""The reaper: what no message will fix by itself.

* a RUNNING unit whose lease expired (its worker vanished: host killed, network cut) goes back to
  QUEUED with a new outbox message — or fails as poison when it used up its attempts;
* a QUEUED unit published long ago and never claimed (its message was lost: a broker flushed, a
  transport that cannot redeliver) gets a new message;
* a job older than the expiry fails with ``expired``, whatever it is doing;
* a RUNNING job whose units have all finished is finalised (a backstop; normally the last unit does it).

Every change is conditional on the state it read, so reapers on several workers may overlap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from sqlalchemy import ColumnElement
from sqlalchemy import Select
from sqlalchemy import exists
from sqlalchemy import select
from sqlalchemy.orm import Session

from cds_server.jobs.claims import finalize_if_complete
from cds_server.jobs.claims import requeue
from cds_server.jobs.states import TERMINAL_JOB
from cds_server.jobs.states import TERMINAL_UNIT
from cds_server.jobs.states import JobStatus
from cds_server.jobs.states import UnitStatus
from cds_server.jobs.store import Clock
from cds_server.jobs.store import stop_units
from cds_server.jobs.store import utc_now
from cds_server.persistence.database import Database
from cds_server.persistence.job_tables import Job
from cds_server.persistence.job_tables import JobOutbox
from cds_server.persistence.job_tables import JobUnit

log = logging.getLogger(__name__)

#: rows handled per kind of problem and run
BATCH = 200


@dataclass(frozen=True)
class ReapReport:
    requeued: int = 0
    poisoned: int = 0
    republished: int = 0
    expired: int = 0
    finalized: int = 0

    @property
    def total(self) -> int:
        return self.requeued + self.poisoned + self.republished + self.expired + self.finalized


@dataclass(frozen=True)
class ReaperPolicy:
    requeue_after_s: float
    expire_after_s: float


def reap(database: Database, policy: ReaperPolicy, *, clock: Clock = utc_now) -> ReapReport:
    """One reaper run: each kind of problem in its own short transaction."""
    now = clock()
    with database.write() as session:
        expired = _expire(session, now, policy)
    with database.write() as session:
        requeued, poisoned = _hand_on_lost_units(session, now)
    with database.write() as session:
        republished = _republish_lost_messages(session, now, policy)
    with database.write() as session:
        finalized = _finalize_finished_jobs(session, now)
    report = ReapReport(requeued, poisoned, republished, expired, finalized)
    if report.total:
        log.info(
            "reaper: %d requeued, %d failed as poison, %d republished, %d expired, %d finalised",
            requeued,
            poisoned,
            republished,
            expired,
            finalized,
        )
    return report


def _expire(session: Session, now: datetime, policy: ReaperPolicy) -> int:
    expired = 0
    old = select(Job.id).where(_unfinished_job(), Job.created_at < now - _s(policy.expire_after_s))
    for job_id in _ids(session, old):
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or JobStatus(job.status).terminal:
            continue
        job.status = JobStatus.FAILED.value
        job.error_code = "expired"
        job.error_message = f"The job did not finish within {policy.expire_after_s:g} seconds."
        job.finished_at = job.updated_at = now
        stop_units(session, job.id, UnitStatus.CANCELLED, now)
        expired += 1
    return expired


def _hand_on_lost_units(session: Session, now: datetime) -> tuple[int, int]:
    """RUNNING units whose lease ran out: back to QUEUED, or failed as poison on their last attempt."""
    requeued = poisoned = 0
    lost = session.execute(
        select(JobUnit.job_id, JobUnit.unit)
        .where(JobUnit.status == UnitStatus.RUNNING.value, JobUnit.lease_until < now)
        .limit(BATCH)
    ).all()
    for job_id, unit in lost:
        job = session.get(Job, job_id, with_for_update=True)
        row = session.get(JobUnit, (job_id, unit), with_for_update=True)
        if job is None or row is None or row.status != UnitStatus.RUNNING.value:
            continue
        if row.lease_until is None or row.lease_until >= now:
            continue  # renewed meanwhile
        if JobStatus(job.status).terminal:
            stop_units(session, job_id, UnitStatus.CANCELLED, now)
        elif row.attempts >= job.max_attempts:
            row.status, row.error_code, row.finished_at = UnitStatus.FAILED.value, "worker-lost", now
            row.claimed_by = row.lease_until = None
            job.status, job.error_code = JobStatus.FAILED.value, "too-many-attempts"
            job.error_message = (
                f"The job was started {row.attempts} times and never finished (its worker died or timed "
                "out each time)."
            )
            job.finished_at = job.updated_at = now
            session.flush()
            stop_units(session, job_id, UnitStatus.CANCELLED, now)
            poisoned += 1
        else:
            requeue(session, row, now, available_at=now)
            row.error_code = "worker-lost"
            job.updated_at = now
            requeued += 1
    return requeued, poisoned


def _republish_lost_messages(session: Session, now: datetime, policy: ReaperPolicy) -> int:
    pending = exists().where(JobOutbox.job_id == JobUnit.job_id, JobOutbox.unit == JobUnit.unit)
    cutoff = now - _s(policy.requeue_after_s)
    published_long_ago = JobUnit.last_published_at < cutoff
    # never published and no message pending: impossible by design, and costs nothing to cover
    never_published = JobUnit.last_published_at.is_(None) & (JobUnit.created_at < cutoff)
    stale = session.execute(
        select(JobUnit.job_id, JobUnit.unit)
        .where(JobUnit.status == UnitStatus.QUEUED.value, published_long_ago | never_published, ~pending)
        .limit(BATCH)
    ).all()
    for job_id, unit in stale:
        session.add(JobOutbox(job_id=job_id, unit=unit, created_at=now, available_at=now))
    return len(stale)


def _finalize_finished_jobs(session: Session, now: datetime) -> int:
    finalized = 0
    done_units = ~exists().where(
        JobUnit.job_id == Job.id, JobUnit.status.not_in([s.value for s in TERMINAL_UNIT])
    )
    for job_id in _ids(session, select(Job.id).where(Job.status == JobStatus.RUNNING.value, done_units)):
        job = session.get(Job, job_id, with_for_update=True)
        if job is not None and finalize_if_complete(session, job, now):
            finalized += 1
    return finalized


def _unfinished_job() -> ColumnElement[bool]:
    return Job.status.not_in([s.value for s in TERMINAL_JOB])


def _ids(session: Session, query: Select[str]) -> list[str]:
    return [str(value) for value in session.scalars(query.limit(BATCH))]


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
