"""The tables of the diagnostic jobs: the job, its work units, the outbox, its results.

``job`` is what a client owns and polls; ``job_unit`` rows are what workers claim (unit 0 runs the
job, a population job adds one unit per chunk), each with its attempt counter and lease;
``job_outbox`` holds the broker messages still to send, written in the same transaction as the job
so a broker outage delays a job but never loses it; ``job_result`` holds the results (one row per
patient or time point), written in the same transaction that marks their unit done, so a result
exists exactly when its unit succeeded. ``server_key`` keeps generated secrets every process shares.

PHI lives here and nowhere else on the job path: ``job.snapshot`` (the prefetch an asynchronous
service handed over), ``job.result`` and ``job_result`` rows. Broker messages carry the job id and
unit number only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from cds_server.persistence.models import HOOK_INSTANCE
from cds_server.persistence.models import ISSUER
from cds_server.persistence.models import REF
from cds_server.persistence.models import REQUEST_ID
from cds_server.persistence.models import SERVICE_ID
from cds_server.persistence.models import TENANT
from cds_server.persistence.models import Base
from cds_server.persistence.types import BigId
from cds_server.persistence.types import JsonDoc
from cds_server.persistence.types import UtcDateTime

JOB_ID = String(36)
JOB_STATES = "'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'"
UNIT_STATES = "'QUEUED', 'RUNNING', 'DONE', 'FAILED', 'CANCELLED'"


class Job(Base):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"status IN ({JOB_STATES})", name="status"),
        Index("ix_job_owner", "client_issuer", "client_tenant", "created_at"),
        Index("ix_job_service_patient", "service_id", "patient_ref", "status"),
        Index("ix_job_status", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(JOB_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    request_id: Mapped[str] = mapped_column(REQUEST_ID)
    client_issuer: Mapped[str] = mapped_column(ISSUER)
    client_subject: Mapped[str | None] = mapped_column(ISSUER)
    client_tenant: Mapped[str] = mapped_column(TENANT)
    #: the asynchronous service that started it, the hook call and the patient (for fresh results)
    service_id: Mapped[str | None] = mapped_column(SERVICE_ID)
    hook_instance: Mapped[str | None] = mapped_column(HOOK_INSTANCE)
    patient_ref: Mapped[str | None] = mapped_column(REF)
    #: normalised base URL of the hook's ``fhirServer``: which backend may read more (never a token)
    fhir_server: Mapped[str | None] = mapped_column(String(2048))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    #: the completed prefetch an asynchronous service handed over (PHI)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    max_attempts: Mapped[int] = mapped_column(Integer)
    #: claims of unit 0 (a chunk's claims are on its unit)
    attempts: Mapped[int] = mapped_column(Integer)
    progress_done: Mapped[int] = mapped_column(Integer)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))
    #: content-free (never an exception's text: it may quote data)
    error_message: Mapped[str | None] = mapped_column(String(512))
    #: the job's summary result (trajectory points, population counts); rows are in job_result
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class JobUnit(Base):
    """A piece of work a worker claims: unit 0 runs the job, units 1.. are a population job's chunks."""

    __tablename__ = "job_unit"
    __table_args__ = (
        CheckConstraint(f"status IN ({UNIT_STATES})", name="status"),
        Index("ix_job_unit_status", "status", "lease_until"),
    )

    job_id: Mapped[str] = mapped_column(ForeignKey("job.id"), primary_key=True)
    unit: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    #: ``host:pid:nonce`` of the claim's process; lets a redelivery on the same host see it died
    claimed_by: Mapped[str | None] = mapped_column(String(256))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: what the unit works on (a chunk's patient ids or exported resources)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    #: patients (or points) this unit produced results for
    done_count: Mapped[int] = mapped_column(Integer)
    error_code: Mapped[str | None] = mapped_column(String(64))


class JobOutbox(Base):
    """A broker message still to send: ``(job_id, unit)``, from ``available_at`` on."""

    __tablename__ = "job_outbox"
    __table_args__ = (Index("ix_job_outbox_available_at", "available_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(JOB_ID)
    unit: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    available_at: Mapped[datetime] = mapped_column(UtcDateTime)


class JobResult(Base):
    """One result row: a patient's score (population) or one time point (trajectory)."""

    __tablename__ = "job_result"

    job_id: Mapped[str] = mapped_column(ForeignKey("job.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_ref: Mapped[str | None] = mapped_column(REF)
    as_of: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: ``scored`` or ``not-scored``
    status: Mapped[str] = mapped_column(String(16))
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    reason: Mapped[str | None] = mapped_column(String(1024))
    #: ``RiskAssessment/{id}`` written back to the FHIR server, if asked
    written_back: Mapped[str | None] = mapped_column(String(128))


class ServerKey(Base):
    """A secret generated once and shared by every process of a deployment (e.g. the link key)."""

    __tablename__ = "server_key"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
