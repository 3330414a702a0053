"""What a unit's code gets: its claim, the server's parts, its lease and a way to report progress."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cds_server.config import Settings
from cds_server.features import MappingRegistry
from cds_server.fhir.backend_auth import SmartBackendToken
from cds_server.fhir.backend_client import BackendClient
from cds_server.fhir.backends import Backend
from cds_server.fhir.backends import BackendRegistry
from cds_server.hooks.registry import ServiceRegistry
from cds_server.inference import ModelRegistry
from cds_server.jobs.claims import Claim
from cds_server.jobs.claims import JobClaims
from cds_server.jobs.errors import JobFailed
from cds_server.jobs.lease import Lease
from cds_server.jobs.records import JobRecord


@dataclass(frozen=True)
class JobDeps:
    """The server's parts a job may use (built once per worker process)."""

    settings: Settings
    mappings: MappingRegistry
    models: ModelRegistry
    services: ServiceRegistry
    backends: BackendRegistry

    #: backend id → its access token, shared by the jobs of this process
    tokens: dict[str, SmartBackendToken] = field(default_factory=dict, compare=False)

    def backend_client(self, backend: Backend) -> BackendClient:
        token = None
        if backend.auth.type == "smart-backend":
            token = self.tokens.setdefault(backend.id, SmartBackendToken(backend))
        return BackendClient(
            backend,
            timeout_s=self.settings.job_fhir_timeout_s,
            max_pages=self.settings.job_fhir_max_pages,
            token=token,
        )

    def backend_for_job(self, backend_id: str, job: JobRecord) -> Backend:
        """:raise JobFailed: unknown backend, or one this job's owner may not use."""
        backend = self.backends.get(backend_id)
        if backend is None or not backend.allows(job.owner.issuer):
            raise JobFailed("unknown-backend", "The FHIR server named by the job is not configured here.")
        return backend


@dataclass
class JobContext:
    claim: Claim
    deps: JobDeps
    lease: Lease
    claims: JobClaims

    @property
    def job(self) -> JobRecord:
        return self.claim.job

    @property
    def unit(self) -> int:
        return self.claim.unit

    @property
    def payload(self) -> Any:
        return self.claim.payload

    def check(self) -> None:
        """:raise JobAbandoned: the job was cancelled or handed on; call between steps."""
        self.lease.check()

    def progress(self, done: int, total: int | None = None) -> None:
        self.check()
        self.claims.progress(self.claim, done=done, total=total)
