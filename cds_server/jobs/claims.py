"""Workers' side of the job tables: claim a unit, renew its lease, finish, fail or hand it back.

Every write after the claim is conditional on the claim still being held (same ``claimed_by``
token, unit still RUNNING), in the same transaction as its effects: a worker that lost its lease
(cancelled, or presumed dead and replaced) cannot write results or change the job. Each
transaction locks the job row first, so the last unit to finish sees every other unit finished and
the job is finalised exactly once.

Delivery is at least once, so a unit may be offered several times. :func:`JobClaims.claim` decides
what a delivery means:

* the unit is QUEUED, or RUNNING with an expired lease, or RUNNING by a process on this host that
  no longer exists (a pool child killed mid-job, its message requeued at once) → claim it;
* RUNNING by a live holder → a duplicate message: drop it (the reaper covers the holder's death);
* the unit was claimed ``max_attempts`` times already → poison: it fails, and its job with it;
* the unit or its job is finished → nothing to do.
"""

from __future__ import annotations

import enum
import os
import socket
import uuid
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from cds_server.jobs.records import JobRecord
from cds_server.jobs.records import ResultRow
from cds_server.jobs.states import TERMINAL_UNIT
from cds_server.jobs.states import JobStatus
from cds_server.jobs.states import UnitStatus
from cds_server.jobs.store import Clock
from cds_server.jobs.store import new_unit
from cds_server.jobs.store import stop_units
from cds_server.jobs.store import to_record
from cds_server.jobs.store import utc_now
from cds_server.persistence.database import Database
from cds_server.persistence.database import insert_or_ignore
from cds_server.persistence.job_tables import Job
from cds_server.persistence.job_tables import JobOutbox
from cds_server.persistence.job_tables import JobResult
from cds_server.persistence.job_tables import JobUnit

HOST = socket.gethostname()


def claim_token() -> str:
    """``host:pid:nonce``: unique per claim; host and pid let a later delivery check the holder lives."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def holder_is_dead(token: str | None) -> bool:
    """True only when the holder ran on this host and its process is gone (a pool child killed)."""
    parts = (token or "").rsplit(":", 2)
    if len(parts) != 3 or parts[0] != HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # this process holds it: not dead, and not ours to take twice
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    return False


class ClaimResult(enum.Enum):
    CLAIMED = "claimed"
    DUPLICATE = "duplicate"  # a live worker holds it
    FINISHED = "finished"  # the unit or its job is already terminal
    POISON = "poison"  # attempts exhausted: failed now
    MISSING = "missing"  # no such job or unit (deleted database, foreign message)


@dataclass(frozen=True)
class Claim:
    job: JobRecord
    unit: int
    token: str
    attempt: int
    payload: Any

    @property
    def job_id(self) -> str:
        return self.job.id


@dataclass(frozen=True)
class Finish:
    """What a unit produced: result rows, the job summary, chunks to fan out, progress."""

    rows: Sequence[ResultRow] = ()
    summary: Mapping[str, Any] | None = None
    #: payloads of new units (a population job's chunks), only from unit 0
    fan_out: Sequence[Any] = ()
    #: how many things this unit counts as done towards the job's progress
    done: int = 0
    #: the job's total, when this unit is the one that learns it
    total: int | None = None


class JobClaims:
    def __init__(self, database: Database, *, lease_s: float, clock: Clock = utc_now) -> None:
        self.database = database
        self.lease = timedelta(seconds=lease_s)
        self.clock = clock

    def claim(self, job_id: str, unit: int, *, token: str) -> tuple[ClaimResult, Claim | None]:
        now = self.clock()
        with self.database.write() as session:
            job = _lock_job(session, job_id)
            row = session.get(JobUnit, (job_id, unit), with_for_update=True) if job else None
            if job is None or row is None:
                return ClaimResult.MISSING, None
            if JobStatus(job.status).terminal or UnitStatus(row.status).terminal:
                return ClaimResult.FINISHED, None
            if (
                row.status == UnitStatus.RUNNING.value
                and row.lease_until is not None
                and row.lease_until > now
                and not holder_is_dead(row.claimed_by)
            ):
                return ClaimResult.DUPLICATE, None
            if row.attempts >= job.max_attempts:
                _fail_job(
                    session,
                    job,
                    row,
                    code="too-many-attempts",
                    message=_poison_message(row.attempts),
                    now=now,
                )
                return ClaimResult.POISON, None
            row.status = UnitStatus.RUNNING.value
            row.attempts += 1
            row.claimed_by = token
            row.heartbeat_at = now
            row.lease_until = now + self.lease
            if unit == 0:
                job.attempts = row.attempts
            if job.status == JobStatus.QUEUED.value:
                job.status = JobStatus.RUNNING.value
                job.started_at = now
            job.updated_at = now
            return ClaimResult.CLAIMED, Claim(to_record(job), unit, token, row.attempts, row.payload)

    def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when the claim is gone (cancelled, failed, or handed on)."""
        now = self.clock()
        with self.database.write() as session:
            result = session.execute(
                update(JobUnit)
                .where(
                    JobUnit.job_id == claim.job_id,
                    JobUnit.unit == claim.unit,
                    JobUnit.claimed_by == claim.token,
                    JobUnit.status == UnitStatus.RUNNING.value,
                )
                .values(heartbeat_at=now, lease_until=now + self.lease)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def progress(self, claim: Claim, *, done: int, total: int | None) -> bool:
        now = self.clock()
        with self.database.write() as session:
            job = _lock_job(session, claim.job_id)
            if job is None or _held(session, claim) is None:
                return False
            job.progress_done, job.updated_at = done, now
            if total is not None:
                job.progress_total = total
            return True

    def finish(self, claim: Claim, outcome: Finish) -> bool:
        """Commit the unit's results and mark it done; the last unit finalises the job.

        :return: False (and nothing written) when the claim is no longer held.
        """
        now = self.clock()
        with self.database.write() as session:
            job = _lock_job(session, claim.job_id)
            row = _held(session, claim) if job is not None else None
            if job is None or row is None or JobStatus(job.status).terminal:
                return False
            for result in outcome.rows:
                session.execute(
                    insert_or_ignore(session, JobResult, ["job_id", "seq"]).values(
                        job_id=job.id,
                        seq=result.seq,
                        patient_ref=result.patient_ref,
                        as_of=result.as_of,
                        status=result.status,
                        outputs=dict(result.outputs) if result.outputs is not None else None,
                        reason=result.reason[:1024] if result.reason else None,
                        written_back=result.written_back,
                    )
                )
            row.status = UnitStatus.DONE.value
            row.finished_at = now
            row.done_count = outcome.done
            row.claimed_by = row.lease_until = None
            if outcome.fan_out:
                first = _next_unit(session, job.id)
                for offset, payload in enumerate(outcome.fan_out):
                    session.add(new_unit(job.id, first + offset, now, payload))
                session.flush()
                for offset in range(len(outcome.fan_out)):
                    session.add(
                        JobOutbox(job_id=job.id, unit=first + offset, created_at=now, available_at=now)
                    )
            if outcome.total is not None:
                job.progress_total = outcome.total
            job.progress_done += outcome.done
            if outcome.summary is not None:
                job.result = {**(job.result or {}), **outcome.summary}
            job.updated_at = now
            session.flush()
            finalize_if_complete(session, job, now)
            return True

    def fail(self, claim: Claim, code: str, message: str) -> bool:
        """The job fails for good (a permanent error in this unit); other units are cancelled."""
        now = self.clock()
        with self.database.write() as session:
            job = _lock_job(session, claim.job_id)
            row = _held(session, claim) if job is not None else None
            if job is None or row is None or JobStatus(job.status).terminal:
                return False
            _fail_job(session, job, row, code=code, message=message, now=now)
            return True

    def release(self, claim: Claim, code: str, *, retry_in_s: float) -> bool:
        """Hand the unit back for another attempt later (a transient failure); fail when out of attempts."""
        now = self.clock()
        with self.database.write() as session:
            job = _lock_job(session, claim.job_id)
            row = _held(session, claim) if job is not None else None
            if job is None or row is None or JobStatus(job.status).terminal:
                return False
            if row.attempts >= job.max_attempts:
                message = f"Gave up after {row.attempts} attempts ({code})."
                _fail_job(session, job, row, code=code, message=message, now=now)
                return True
            requeue(session, row, now, available_at=now + timedelta(seconds=retry_in_s))
            row.error_code = code
            job.updated_at = now
            return True


def requeue(session: Session, row: JobUnit, now: datetime, *, available_at: datetime) -> None:
    """A RUNNING unit goes back to QUEUED with a broker message to send from ``available_at``."""
    row.status = UnitStatus.QUEUED.value
    row.claimed_by = None
    row.lease_until = None
    session.add(JobOutbox(job_id=row.job_id, unit=row.unit, created_at=now, available_at=available_at))


def finalize_if_complete(session: Session, job: Job, now: datetime) -> bool:
    """A RUNNING job whose units are all finished succeeds (all done) or fails; counts its results."""
    if job.status != JobStatus.RUNNING.value:
        return False
    states = dict(
        session.execute(
            select(JobUnit.status, func.count()).where(JobUnit.job_id == job.id).group_by(JobUnit.status)
        ).all()
    )
    if any(status not in {s.value for s in TERMINAL_UNIT} for status in states):
        return False
    counts = dict(
        session.execute(
            select(JobResult.status, func.count())
            .where(JobResult.job_id == job.id)
            .group_by(JobResult.status)
        ).all()
    )
    job.result = {**(job.result or {}), "rows": {str(k): int(v) for k, v in counts.items()}}
    if set(states) == {UnitStatus.DONE.value}:
        job.status = JobStatus.SUCCEEDED.value
    else:
        job.status = JobStatus.FAILED.value
        job.error_code = job.error_code or "unit-failed"
    job.finished_at = job.updated_at = now
    return True


def _fail_job(session: Session, job: Job, row: JobUnit, *, code: str, message: str, now: datetime) -> None:
    row.status = UnitStatus.FAILED.value
    row.finished_at = now
    row.error_code = code
    row.claimed_by = row.lease_until = None
    job.status = JobStatus.FAILED.value
    job.error_code = code
    job.error_message = message[:512]
    job.finished_at = job.updated_at = now
    session.flush()
    stop_units(session, job.id, UnitStatus.CANCELLED, now)


def _poison_message(attempts: int) -> str:
    return (
        f"The job was started {attempts} times and never finished (its worker died or timed out each time)."
    )


def _lock_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id, with_for_update=True)


def _held(session: Session, claim: Claim) -> JobUnit | None:
    row = session.get(JobUnit, (claim.job_id, claim.unit), with_for_update=True)
    if row is None or row.claimed_by != claim.token or row.status != UnitStatus.RUNNING.value:
        return None
    return row


def _next_unit(session: Session, job_id: str) -> int:
    highest = session.scalar(select(func.max(JobUnit.unit)).where(JobUnit.job_id == job_id))
    return int(highest or 0) + 1
