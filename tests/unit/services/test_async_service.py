"""An asynchronous service's answers, with a job system that is a plain object: start, running,
result, failure, freshness, and who the jobs belong to."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
import yaml

from cds_server.errors import ServiceUnavailable
from cds_server.features import MappingRegistry
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.request import parse_hook_request
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookCall
from cds_server.inference import ModelRegistry
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.services.declaration import ServiceDeclaration
from cds_server.services.loader import ServiceDeclarationError
from cds_server.services.loader import build_services
from cds_server.services.trend_card import JOB_EXTENSION
from cds_server.services.trend_card import TREND_EXTENSION
from cds_server.services.trend_card import _mid_sentence
from tests.support.paths import REPO_ROOT

NOW = datetime(2021, 6, 1, tzinfo=UTC)
CLIENT = ClientIdentity(issuer="https://ehr.example.org", tenant="t1")
SUMMARY = {
    "model": "ascvd-pce",
    "version": "1.0.0",
    "provider": "CPUExecutionProvider",
    "output": "risk_10y",
    "points": [
        {"asOf": "2017-01-01T00:00:00+00:00", "value": 0.06},
        {"asOf": "2021-01-01T00:00:00+00:00", "value": 0.11},
    ],
    "first": {"asOf": "2017-01-01T00:00:00+00:00", "value": 0.06},
    "last": {"asOf": "2021-01-01T00:00:00+00:00", "value": 0.11},
    "change": 0.05,
    "spanYears": 4.0,
    "direction": "rose",
    "driver": {
        "input": "systolic_bp",
        "label": "Systolic blood pressure",
        "contribution": 0.03,
        "from": 120,
        "to": 170,
    },
    "history": "server",
}


class FakeJobs:
    def __init__(self) -> None:
        self.jobs: list[JobView] = []
        self.started: list[dict[str, Any]] = []
        self.clock = NOW

    def latest(
        self, owner: Owner, *, service_id: str, patient_ref: str, fhir_server: str | None
    ) -> JobView | None:
        mine = [
            j
            for j in self.jobs
            if (j.service_id, j.patient_ref, j.params.get("owner")) == (service_id, patient_ref, owner)
        ]
        return mine[-1] if mine else None

    def start(self, **kwargs: Any) -> JobView:
        self.started.append(kwargs)
        job = JobView(
            id=str(uuid.uuid4()),
            kind=kwargs["kind"],
            status=JobStatus.QUEUED,
            created_at=self.clock,
            updated_at=self.clock,
            started_at=None,
            finished_at=None,
            attempts=0,
            max_attempts=3,
            progress_done=0,
            progress_total=None,
            error_code=None,
            error_message=None,
            service_id=kwargs["service_id"],
            patient_ref=kwargs["patient_ref"],
            params={**kwargs["params"], "owner": kwargs["owner"]},
            result=None,
        )
        self.jobs.append(job)
        return job

    def finish(
        self, status: JobStatus, result: Mapping[str, Any] | None = None, error: str | None = None
    ) -> None:
        self.jobs[-1] = replace(
            self.jobs[-1], status=status, finished_at=self.clock, result=result, error_code=error
        )

    def link(self, job_id: str) -> str:
        return f"https://cds.example.org/jobs/{job_id}/view?exp=1&sig=x"

    def now(self) -> datetime:
        return self.clock


@pytest.fixture
def declaration() -> ServiceDeclaration:
    return ServiceDeclaration.model_validate(
        yaml.safe_load((REPO_ROOT / "cds_services" / "risk-trajectory.yaml").read_text())
    )


def build(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry, jobs: FakeJobs | None
) -> CdsService:
    (service,) = build_services(
        declaration,
        path=REPO_ROOT / "risk-trajectory.yaml",
        mappings=mappings,
        models=models,
        public_base_url="https://cds.example.org",
        jobs=jobs,
    )
    return service


def call(service: CdsService, client: ClientIdentity = CLIENT, patient: str = "p1") -> ServiceAnswer:
    request = parse_hook_request(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"userId": "Practitioner/1", "patientId": patient},
            "prefetch": {"patient": {"resourceType": "Patient", "id": patient}},
        }
    )
    answer = service.handler(HookCall(service, request, request.prefetch or {}, {}, NOW, client))
    assert isinstance(answer, ServiceAnswer)
    return answer


def test_the_first_view_starts_a_job_and_says_so(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    jobs = FakeJobs()
    service = build(declaration, mappings, models, jobs)
    answer = call(service)
    (card,) = answer.response.cards
    assert card.summary == "ASCVD risk trajectory: analysis running"
    assert card.detail is not None
    assert card.detail.startswith("The 10-year ASCVD risk is being recomputed as of each visit")
    assert card.links[0].url.startswith("https://cds.example.org/jobs/")
    (started,) = jobs.started
    assert started["kind"] == "risk-trajectory"
    assert started["owner"] == Owner("https://ehr.example.org", "t1", None)
    assert started["snapshot"] == {"patient": {"resourceType": "Patient", "id": "p1"}}
    assert started["params"]["lookBackDays"] == 3652  # ten years of 365.25 days
    assert started["params"]["now"] == NOW.isoformat()
    # viewed again while it runs: no second job
    assert (
        call(service).response.cards[0].extension[JOB_EXTENSION]["id"] == card.extension[JOB_EXTENSION]["id"]
    )  # type: ignore[index]
    assert len(jobs.started) == 1
    # another client, or another patient: jobs of their own
    call(service, client=ClientIdentity(issuer="https://other.example.org"))
    call(service, patient="p2")
    assert len(jobs.started) == 3


def test_a_fresh_result_is_the_trend_card_and_a_stale_one_starts_again(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    jobs = FakeJobs()
    service = build(declaration, mappings, models, jobs)
    call(service)
    jobs.finish(JobStatus.SUCCEEDED, SUMMARY)
    answer = call(service)
    (card,) = answer.response.cards
    assert (
        card.summary
        == "10-year ASCVD risk rose from 6.0 % to 11.0 % over 4 years; main driver: Systolic blood pressure"
    )
    assert card.indicator == "warning"  # 11 % is in the guideline's "intermediate" band
    assert card.extension is not None
    assert card.extension[TREND_EXTENSION]["driver"]["input"] == "systolic_bp"
    assert answer.models[0].model_id == "ascvd-pce"
    assert len(jobs.started) == 1
    jobs.clock = NOW + timedelta(days=2)
    assert call(service).response.cards[0].summary.endswith("analysis running")
    assert len(jobs.started) == 2


def test_a_recent_failure_is_shown_and_not_retried_until_it_is_stale(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    jobs = FakeJobs()
    service = build(declaration, mappings, models, jobs)
    call(service)
    jobs.finish(JobStatus.FAILED, error="timeout")
    (card,) = call(service).response.cards
    assert card.summary == "ASCVD risk trajectory: not available"
    assert "timeout" in (card.detail or "")
    assert len(jobs.started) == 1


def test_without_a_job_system_the_service_answers_503(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    with pytest.raises(ServiceUnavailable):
        call(build(declaration, mappings, models, None))


def test_bad_async_declarations_fail_start_up(
    declaration: ServiceDeclaration, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    bad = declaration.model_copy(update={"async_": declaration.async_.model_copy(update={"freshFor": "P1X"})})  # type: ignore[union-attr]
    with pytest.raises(ServiceDeclarationError, match=r"async\.freshFor"):
        build(bad, mappings, models, FakeJobs())
    wrong = declaration.model_copy(
        update={"card": declaration.card.model_copy(update={"summary": "{nonsense}"})}
    )
    with pytest.raises(ServiceDeclarationError, match="nonsense"):
        build(wrong, mappings, models, FakeJobs())


@pytest.mark.parametrize(
    ("title", "in_a_sentence"),
    [("10-year ASCVD risk", "10-year ASCVD risk"), ("Diabetes risk", "diabetes risk"), ("NEWS2", "NEWS2")],
)
def test_titles_inside_a_sentence_keep_their_acronyms(title: str, in_a_sentence: str) -> None:
    assert _mid_sentence(title) == in_a_sentence
