"""An asynchronous service: the hook hands its data to a job and answers at once.

The handler of a declaration with ``async:``. For the calling client and patient it shows, in order:
the stored result when one is fresh (``freshFor``); a "could not be computed" card when the last job
failed recently (no new job until then: a broken chart must not start a job per view); "analysis
running" when a job is under way; otherwise it starts one — the completed prefetch becomes the job's
snapshot (never the access token, which is transient) — and says it is running, with a link to the
result page.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from typing import Protocol

from cds_server.errors import ServiceUnavailable
from cds_server.features import CompiledMapping
from cds_server.features.fhirtime import parse_duration
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.decisions import ModelUse
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.service import HookCall
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.services.declaration import AsyncSpec
from cds_server.services.policy import CompiledPolicy
from cds_server.services.trend_card import failed_card
from cds_server.services.trend_card import fresh
from cds_server.services.trend_card import running_card
from cds_server.services.trend_card import trend_card


class AsyncJobs(Protocol):
    """What an asynchronous service needs of the job system (implemented by ``jobs.gateway``)."""

    def latest(
        self, owner: Owner, *, service_id: str, patient_ref: str, fhir_server: str | None
    ) -> JobView | None: ...

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
    ) -> JobView: ...

    def link(self, job_id: str) -> str: ...

    def now(self) -> datetime: ...


class AsyncServiceHandler:
    def __init__(
        self, policy: CompiledPolicy, mapping: CompiledMapping, spec: AsyncSpec, jobs: AsyncJobs | None
    ) -> None:
        self.policy = policy
        self.mapping = mapping
        self.spec = spec
        self.jobs = jobs
        self.fresh_for_s = _seconds(spec.freshFor)
        self.look_back_days = max(1, round(_seconds(spec.lookBack) / 86400))

    def __call__(self, call: HookCall) -> ServiceAnswer:
        if self.jobs is None:
            raise ServiceUnavailable("Asynchronous services need the job store, which is not configured.")
        patient_id = call.request.patient_id
        if patient_id is None:
            return ServiceAnswer(HookResponse(cards=()), notes=("async:no-patient",))
        declaration = self.policy.declaration
        owner = Owner.of(call.client)
        patient_ref = f"Patient/{patient_id}"
        # only a fhirServer the calling client may use; a job reads it with our backend credentials
        fhir_server = call.fhir_server
        latest = self.jobs.latest(
            owner, service_id=declaration.id, patient_ref=patient_ref, fhir_server=fhir_server
        )
        now = self.jobs.now()
        if latest is not None and latest.status is JobStatus.SUCCEEDED and latest.result:
            if fresh(latest.finished_at, now, self.fresh_for_s):
                return self._result(latest)
        elif latest is not None and latest.status is JobStatus.FAILED:
            if fresh(latest.finished_at, now, self.fresh_for_s):
                card = failed_card(
                    self.policy,
                    job_id=latest.id,
                    error_code=latest.error_code,
                    link=self.jobs.link(latest.id),
                )
                return ServiceAnswer(HookResponse(cards=(card,)), notes=(f"async:failed:{latest.id}",))
        elif latest is not None and not latest.terminal:
            return self._running(latest, "async:running")
        job = self.jobs.start(
            owner=owner,
            kind=self.spec.job,
            params=self._params(patient_id, call.now),
            service_id=declaration.id,
            hook_instance=call.request.hookInstance,
            patient_ref=patient_ref,
            fhir_server=fhir_server,
            snapshot=dict(call.prefetch),
        )
        return self._running(job, "async:started")

    def _params(self, patient_id: str, now: datetime) -> dict[str, Any]:
        declaration = self.policy.declaration
        return {
            "service": declaration.id,
            "patientId": patient_id,
            "now": now.isoformat(),
            "mapping": declaration.mapping,
            "model": declaration.model,
            "output": declaration.card.output,
            "lookBackDays": self.look_back_days,
            "maxPoints": self.spec.maxPoints,
            "labels": dict(declaration.labels),
        }

    def _running(self, job: JobView, note: str) -> ServiceAnswer:
        assert self.jobs is not None
        card = running_card(
            self.policy,
            job_id=job.id,
            status=job.status.value,
            link=self.jobs.link(job.id),
            look_back=self.spec.lookBack,
        )
        return ServiceAnswer(HookResponse(cards=(card,)), notes=(f"{note}:{job.id}",))

    def _result(self, job: JobView) -> ServiceAnswer:
        assert self.jobs is not None
        assert job.result is not None
        summary = job.result
        card = trend_card(self.policy, summary, job_id=job.id, link=self.jobs.link(job.id))
        model = self.policy.model
        use = ModelUse(
            model_id=str(summary.get("model", model.id)),
            version=str(summary.get("version", model.version)),
            sha256=model.sha256,
            provider=str(summary.get("provider", "unknown")),
        )
        trend = {
            key: summary.get(key) for key in ("first", "last", "change", "spanYears", "direction", "driver")
        }
        return ServiceAnswer(
            HookResponse(cards=(card,)),
            outputs={"trend": trend, "job": job.id},
            models=(use,),
            notes=(f"async:result:{job.id}",),
        )


def _seconds(duration: str) -> float:
    """Approximate length of an ISO 8601 duration (a year is 365.25 days, a month 30.44)."""
    parsed = parse_duration(duration)
    days = parsed.years * 365.25 + parsed.months * 30.44
    return days * 86400 + parsed.rest.total_seconds()
