"""The job system of one process: store, kinds, backends, result links — built by ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass

from cds_server.config import Settings
from cds_server.fhir.backends import BackendRegistry
from cds_server.fhir.backends import load_backends
from cds_server.jobs.builtin import job_kinds
from cds_server.jobs.gateway import AsyncJobGateway
from cds_server.jobs.kinds import JobKinds
from cds_server.jobs.links import LinkSigner
from cds_server.jobs.links import StoredKey
from cds_server.jobs.store import JobStore
from cds_server.jobs.store import utc_now
from cds_server.persistence.database import Database


@dataclass(frozen=True)
class JobSystem:
    store: JobStore
    kinds: JobKinds
    backends: BackendRegistry
    links: LinkSigner

    @property
    def gateway(self) -> AsyncJobGateway:
        return AsyncJobGateway(self.store, self.links)

    @classmethod
    def build(cls, settings: Settings, database: Database) -> JobSystem:
        """:raise BackendConfigError: the backends file is unusable (start-up stops, naming the field)."""
        backends_file = settings.folder("fhir_backends_file") if settings.fhir_backends_file else None
        key = StoredKey(database, settings.job_link_secret, utc_now)
        return cls(
            store=JobStore(database, max_attempts=settings.job_max_attempts),
            kinds=job_kinds(settings.job_modules),
            backends=load_backends(backends_file),
            links=LinkSigner(key, base_url=settings.public_base_url, ttl_s=settings.job_link_ttl_s),
        )
