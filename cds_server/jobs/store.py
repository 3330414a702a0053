"""Jobs as their owners see them: submit (job + outbox in one transaction), read, cancel, results.

Every read is scoped to the owner: another client's job is answered exactly like an unknown id
(404), so a job id reveals nothing. Workers use :mod:`cds_server.jobs.claims` instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import Session

from cds_server.errors import Conflict
from cds_server.errors import JobNotFound
from cds_server.jobs.records import JOB_ID_RE
from cds_server.jobs.records import JobRecord
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.records import ResultRow
from cds_server.jobs.records import UnitCounts
from cds_server.jobs.states import TERMINAL_UNIT
from cds_server.jobs.states import JobStatus
from cds_server.jobs.states import UnitStatus
from cds_server.persistence.database import Database
from cds_server.persistence.job_tables import Job
from cds_server.persistence.job_tables import JobOutbox
from cds_server.persistence.job_tables import JobResult
from cds_server.persistence.job_tables import JobUnit

Clock = Callable[[], datetime]

#: result rows read per round trip when streaming a large result
RESULT_PAGE = 1000


def utc_now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    """The job tables through the request path's database (short transactions, 503 on failure)."""

    def __init__(self, database: Database, *, max_attempts: int, clock: Clock = utc_now) -> None:
        self.database = database
        self.max_attempts = max_attempts
        self.clock = clock

    def submit(
        self,
        *,
        owner: Owner,
        kind: str,
        params: Mapping[str, Any],
        request_id: str,
        service_id: str | None = None,
        hook_instance: str | None = None,
        patient_ref: str | None = None,
        fhir_server: str | None = None,
        snapshot: Mapping[str, Any] | None = None,
    ) -> JobView:
        """Accept a job: its row, its first unit and its outbox message commit together or not at all.

        :raise DatabaseUnavailable: nothing was accepted (503); the client may retry.
        """
        now = self.clock()
        job = Job(
            id=str(uuid.uuid4()),
            kind=kind,
            status=JobStatus.QUEUED.value,
            created_at=now,
            updated_at=now,
            started_at=None,
            finished_at=None,
            request_id=request_id,
            client_issuer=owner.issuer,
            client_subject=owner.subject,
            client_tenant=owner.tenant,
            service_id=service_id,
            hook_instance=hook_instance,
            patient_ref=patient_ref,
            fhir_server=fhir_server,
            params=dict(params),
            snapshot=dict(snapshot) if snapshot is not None else None,
            max_attempts=self.max_attempts,
            attempts=0,
            progress_done=0,
            progress_total=None,
            error_code=None,
            error_message=None,
            result=None,
        )
        with self.database.write() as session:
            session.add(job)
            session.flush()  # the unit's foreign key needs the job row first
            session.add(new_unit(job.id, 0, now))
            session.add(JobOutbox(job_id=job.id, unit=0, created_at=now, available_at=now))
        return _view(job, UnitCounts(total=1, queued=1))

    def get(self, owner: Owner, job_id: str) -> JobView:
        """:raise JobNotFound: no such job, or another client's (the same answer for both)."""
        with self.database.read() as session:
            job = _owned(session, owner, job_id)
            return _view(job, _unit_counts(session, job.id))

    def record(self, job_id: str) -> JobRecord | None:
        """The whole job, snapshot included, for a worker (no owner check: workers act for every owner)."""
        with self.database.read() as session:
            job = session.get(Job, job_id)
            return None if job is None else to_record(job)

    def cancel(self, owner: Owner, job_id: str) -> JobView:
        """Cancel a job that has not finished; cancelling a cancelled job again changes nothing.

        A running unit notices at its next heartbeat and stops; whatever it writes afterwards is
        refused because its claim is gone.

        :raise JobNotFound: no such job for this owner.
        :raise Conflict: the job already succeeded or failed.
        """
        now = self.clock()
        with self.database.write() as session:
            job = _owned(session, owner, job_id, lock=True)
            status = JobStatus(job.status)
            if status is JobStatus.CANCELLED:
                return _view(job, _unit_counts(session, job.id))
            if status.terminal:
                raise Conflict(f"The job has already finished ({status.value}); it cannot be cancelled.")
            job.status = JobStatus.CANCELLED.value
            job.finished_at = job.updated_at = now
            job.error_code = "cancelled"
            stop_units(session, job.id, UnitStatus.CANCELLED, now)
            return _view(job, _unit_counts(session, job.id))

    def results(self, owner: Owner, job_id: str) -> tuple[JobView, Iterator[ResultRow]]:
        """The job and its result rows in order (read page by page as the iterator is consumed)."""
        view = self.get(owner, job_id)
        return view, self.rows(job_id)

    def rows(self, job_id: str) -> Iterator[ResultRow]:
        """A job's result rows in order, read page by page (no owner check: callers check first)."""
        after = -1
        while True:
            with self.database.read() as session:
                page = session.scalars(
                    select(JobResult)
                    .where(JobResult.job_id == job_id, JobResult.seq > after)
                    .order_by(JobResult.seq)
                    .limit(RESULT_PAGE)
                ).all()
            for row in page:
                yield to_result_row(row)
            if len(page) < RESULT_PAGE:
                return
            after = page[-1].seq

    def latest_for_patient(
        self, owner: Owner, *, service_id: str, patient_ref: str, fhir_server: str | None
    ) -> JobView | None:
        """The newest job (not cancelled) an asynchronous service started for this patient and client."""
        with self.database.read() as session:
            query = (
                select(Job)
                .where(
                    Job.client_issuer == owner.issuer,
                    Job.client_tenant == owner.tenant,
                    Job.service_id == service_id,
                    Job.patient_ref == patient_ref,
                    Job.status != JobStatus.CANCELLED.value,
                )
                .order_by(Job.created_at.desc())
                .limit(1)
            )
            query = query.where(
                Job.fhir_server.is_(None) if fhir_server is None else Job.fhir_server == fhir_server
            )
            job = session.scalars(query).first()
            return None if job is None else _view(job, UnitCounts())


def new_unit(job_id: str, unit: int, now: datetime, payload: Any = None) -> JobUnit:
    return JobUnit(
        job_id=job_id,
        unit=unit,
        status=UnitStatus.QUEUED.value,
        attempts=0,
        claimed_by=None,
        lease_until=None,
        heartbeat_at=None,
        last_published_at=None,
        created_at=now,
        finished_at=None,
        payload=payload,
        done_count=0,
        error_code=None,
    )


def stop_units(session: Session, job_id: str, status: UnitStatus, now: datetime) -> None:
    """Every unfinished unit of a job becomes ``status``; its pending broker messages are dropped."""
    session.execute(
        update(JobUnit)
        .where(JobUnit.job_id == job_id, JobUnit.status.not_in([s.value for s in TERMINAL_UNIT]))
        .values(status=status.value, finished_at=now, claimed_by=None, lease_until=None)
    )
    session.execute(delete(JobOutbox).where(JobOutbox.job_id == job_id))


def to_record(job: Job) -> JobRecord:
    return JobRecord(
        id=job.id,
        kind=job.kind,
        status=JobStatus(job.status),
        owner=Owner(job.client_issuer, job.client_tenant, job.client_subject),
        params=job.params,
        snapshot=job.snapshot,
        fhir_server=job.fhir_server,
        service_id=job.service_id,
        patient_ref=job.patient_ref,
        created_at=job.created_at,
        max_attempts=job.max_attempts,
    )


def to_result_row(row: JobResult) -> ResultRow:
    return ResultRow(
        seq=row.seq,
        status=row.status,
        patient_ref=row.patient_ref,
        as_of=row.as_of,
        outputs=row.outputs,
        reason=row.reason,
        written_back=row.written_back,
    )


def _owned(session: Session, owner: Owner, job_id: str, *, lock: bool = False) -> Job:
    if not JOB_ID_RE.match(job_id):
        raise JobNotFound()
    query = select(Job).where(
        Job.id == job_id, Job.client_issuer == owner.issuer, Job.client_tenant == owner.tenant
    )
    job = session.scalars(query.with_for_update() if lock else query).first()
    if job is None:
        raise JobNotFound()
    return job


def _unit_counts(session: Session, job_id: str) -> UnitCounts:
    rows = session.execute(
        select(JobUnit.status, func.count()).where(JobUnit.job_id == job_id).group_by(JobUnit.status)
    ).all()
    counts = {str(status): int(count) for status, count in rows}
    return UnitCounts(
        total=sum(counts.values()),
        queued=counts.get(UnitStatus.QUEUED.value, 0),
        running=counts.get(UnitStatus.RUNNING.value, 0),
        done=counts.get(UnitStatus.DONE.value, 0),
        failed=counts.get(UnitStatus.FAILED.value, 0),
        cancelled=counts.get(UnitStatus.CANCELLED.value, 0),
    )


def _view(job: Job, units: UnitCounts) -> JobView:
    return JobView(
        id=job.id,
        kind=job.kind,
        status=JobStatus(job.status),
        created_at=job.created_at,
        updated_at=job.updated_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        progress_done=job.progress_done,
        progress_total=job.progress_total,
        error_code=job.error_code,
        error_message=job.error_message,
        service_id=job.service_id,
        patient_ref=job.patient_ref,
        params=job.params,
        result=job.result,
        units=units,
    )
