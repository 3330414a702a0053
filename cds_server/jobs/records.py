"""Plain values the job layer hands around: who owns a job, what a job looks like, result rows."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from cds_server.hooks.decisions import ClientIdentity
from cds_server.jobs.states import JobStatus

#: job ids are UUID4: unguessable, so an id in a URL reveals nothing about other jobs
JOB_ID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Owner:
    """The client a job belongs to: its issuer and tenant (``""`` when it has none)."""

    issuer: str
    tenant: str = ""
    subject: str | None = None

    @classmethod
    def of(cls, client: ClientIdentity) -> Owner:
        return cls(issuer=client.issuer, tenant=client.tenant or "", subject=client.subject)


@dataclass(frozen=True)
class UnitCounts:
    total: int = 0
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class JobView:
    """A job as its owner sees it (no snapshot: that is input, not output)."""

    id: str
    kind: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    attempts: int
    max_attempts: int
    progress_done: int
    progress_total: int | None
    error_code: str | None
    error_message: str | None
    service_id: str | None
    patient_ref: str | None
    params: Mapping[str, Any]
    result: Mapping[str, Any] | None
    units: UnitCounts = field(default_factory=UnitCounts)

    @property
    def terminal(self) -> bool:
        return self.status.terminal


@dataclass(frozen=True)
class JobRecord:
    """A job as a worker needs it: everything, the snapshot included."""

    id: str
    kind: str
    status: JobStatus
    owner: Owner
    params: Mapping[str, Any]
    snapshot: Mapping[str, Any] | None
    fhir_server: str | None
    service_id: str | None
    patient_ref: str | None
    created_at: datetime
    max_attempts: int


@dataclass(frozen=True)
class ResultRow:
    """One result: a patient's score or one time point of a trajectory."""

    seq: int
    status: str  # "scored" | "not-scored"
    patient_ref: str | None = None
    as_of: datetime | None = None
    outputs: Mapping[str, float | None] | None = None
    reason: str | None = None
    written_back: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "status": self.status}
        if self.patient_ref is not None:
            out["patient"] = self.patient_ref
        if self.as_of is not None:
            out["asOf"] = self.as_of.isoformat()
        out["outputs"] = dict(self.outputs or {})
        if self.reason:
            out["reason"] = self.reason
        if self.written_back:
            out["riskAssessment"] = self.written_back
        return out
