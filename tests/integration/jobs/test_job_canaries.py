"""No PHI leaves the database on the job path: broker messages, Redis keys and values, and the worker's
log (at DEBUG) carry job ids only, whatever the job holds (reliability-security §4.5 I5)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.services.trend_card import JOB_EXTENSION
from cds_server.state import get_state
from tests.integration.jobs.conftest import wait_terminal
from tests.support import fhir_builders as fb
from tests.support.charts import prefetch_for
from tests.support.clients import EHR_A
from tests.support.redis_server import RedisServer
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NAME = "ZZCANARY-7F3A"
MRN = "MRN-CANARY-91532"
BIRTH_DATE = "1901-02-03"
TOKEN = "tok-CANARY-8c1f44"
PATIENT = "canary-patient-1"
CANARIES = (NAME, MRN, BIRTH_DATE, TOKEN)


def canary_chart() -> list[dict[str, Any]]:
    patient = fb.patient(PATIENT, birth_date=BIRTH_DATE, gender="female")
    patient["name"] = [{"family": NAME, "given": ["Test"]}]
    patient["identifier"] = [{"system": "urn:oid:1.2.3.4.5.1", "value": MRN}]
    return [
        patient,
        fb.observation(PATIENT, "2093-3", 240, "mg/dL", "2020-03-01"),
        fb.observation(PATIENT, "2085-9", 38, "mg/dL", "2020-03-01"),
        fb.blood_pressure(PATIENT, 162, 95, "2020-05-01"),
    ]


def test_no_canary_in_broker_messages_redis_or_worker_logs(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker = RedisServer(tmp_path / "redis")
    try:
        worker = start_worker(env={"CDS_BROKER_URL": broker.url}, loglevel="DEBUG")
        client = job_app.test_client()
        service = get_state(job_app).registry.get("risk-trajectory", "patient-view")
        body = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "fhirServer": "https://ehr.example.org/fhir",
            "fhirAuthorization": {
                "access_token": TOKEN,
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "cds",
            },
            "context": {"userId": "Practitioner/1", "patientId": PATIENT},
            "prefetch": prefetch_for(service, canary_chart()),
        }
        card = client.post("/cds-services/risk-trajectory", json=body).json["cards"][0]
        trajectory = card["extension"][JOB_EXTENSION]["id"]
        slow = (
            get_state(job_app)
            .jobs.store.submit(
                owner=Owner(EHR_A), kind="test-sleep", params={"seconds": 1.5, "note": NAME}, request_id="r"
            )
            .id
        )
        # while the slow job runs, its message sits unacknowledged in Redis: look at it then
        wait_for(
            lambda: get_state(job_app).jobs.store.get(Owner(EHR_A), slow).status is JobStatus.RUNNING,
            timeout=30,
            what="the slow job to run",
        )
        during = broker.dump()
        for job_id in (trajectory, slow):
            assert wait_terminal(job_app, Owner(EHR_A), job_id, timeout=60).status is JobStatus.SUCCEEDED
        time.sleep(0.5)
        after = broker.dump()
        assert broker.keys()  # the scan saw the broker's keys (queues, bindings, unacked)
        assert trajectory.encode() in during + after or slow.encode() in during + after
        log = worker.output()
        for canary in CANARIES:
            assert canary.encode() not in during, canary
            assert canary.encode() not in after, canary
            assert canary not in log, canary
        assert "cds.jobs.run" in log
    finally:
        broker.kill()
