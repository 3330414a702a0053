"""The job system as asynchronous services see it (:class:`cds_server.services.async_service.AsyncJobs`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cds_server.jobs.links import LinkSigner
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.store import JobStore


class AsyncJobGateway:
    def __init__(self, store: JobStore, links: LinkSigner) -> None:
        self.store = store
        self.links = links

    def latest(
        self, owner: Owner, *, service_id: str, patient_ref: str, fhir_server: str | None
    ) -> JobView | None:
        return self.store.latest_for_patient(
            owner, service_id=service_id, patient_ref=patient_ref, fhir_server=fhir_server
        )

    def start(
        self,
        *,
        owner: Owner,
        kind: str,
        params: Mapping[str, Any],
        service_id: str,
        hook_instance: str,
        patient_ref: str,
        fhir_server: str | None,
        snapshot: Mapping[str, Any],
    ) -> JobView:
        return self.store.submit(
            owner=owner,
            kind=kind,
            params=params,
            request_id=hook_instance,
            service_id=service_id,
            hook_instance=hook_instance,
            patient_ref=patient_ref,
            fhir_server=fhir_server,
            snapshot=snapshot,
        )

    def link(self, job_id: str) -> str:
        return self.links.url(job_id, self.store.clock())

    def now(self) -> datetime:
        return self.store.clock()
