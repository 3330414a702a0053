"""``cds-server serve`` with two gunicorn workers: metrics add up across workers, logs are JSON lines with
request ids and no patient, and the run's metrics directory is gone after a stop."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cds_server.demo.ehr import hook_request
from cds_server.demo.patients import chart
from cds_server.demo.patients import demo_patients
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.live_server import in_parallel
from tests.support.served import ServedApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CALLS = 60


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedApp]:
    app = ServedApp(tmp_path, {"CDS_EMBEDDED_WORKER": "false", "CDS_LOG_FORMAT": "json"}, workers=2)
    try:
        yield app
    finally:
        app.stop()


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def metrics_directory(served: ServedApp) -> Path:
    (directory,) = served.tmpdir.glob("cds-server-metrics-*")
    return directory


def test_metrics_add_up_every_worker_and_logs_are_json(served: ServedApp, make_app: AppFactory) -> None:
    directory = metrics_directory(served)
    with httpx.Client(base_url=served.url, timeout=10, limits=httpx.Limits(max_connections=32)) as http:
        statuses = in_parallel(lambda _: http.get("/healthz").status_code, range(CALLS), threads=16)
        assert statuses == [200] * CALLS

        # a real hook call, signed with the development client as the demo page does
        patient = next(p for p in demo_patients() if p.name == "Emery_Purdy")
        service = get_state(make_app()).registry.get("ascvd-risk", "patient-view")
        resources = chart(patient, now=datetime.now(UTC))
        patient_id = next(r["id"] for r in resources if r["resourceType"] == "Patient")
        body = hook_request(
            service, resources, patient_id=patient_id, user_id="Practitioner/1", now=datetime.now(UTC)
        )
        url = f"{served.url}/cds-services/ascvd-risk"
        token = http.get("/demo/token", params={"url": url}).json()["token"]
        request_id = uuid.uuid4().hex
        answer = http.post(
            url, json=body, headers={"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
        )
        assert answer.status_code == 200, answer.text
        text = http.get("/metrics").text

    # each worker wrote its own files; /metrics, answered by one of them, adds them all up
    pids = {int(m) for m in re.findall(r"_(\d+)\.db$", "\n".join(p.name for p in directory.iterdir()), re.M)}
    assert len(pids) >= 2, pids
    assert (
        metric(
            text,
            "cds_http_request_duration_seconds_count",
            endpoint="health.healthz",
            method="GET",
            status="200",
        )
        == CALLS
    )
    hook = {"service": "ascvd-risk", "hook": "patient-view", "status": "200"}
    assert metric(text, "cds_hook_request_duration_seconds_count", **hook) == 1
    assert patient_id not in text

    output = served.stop()
    assert not directory.exists()  # one directory per run, removed at the end
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert any(
        line.get("message", "").startswith("cds-server 0.1.0 listening") and line["demo"] for line in lines
    )
    (access,) = [
        line for line in lines if line.get("request_id") == request_id and line.get("event") == "http"
    ]
    assert (access["method"], access["path"], access["status"]) == ("POST", "/cds-services/ascvd-risk", 200)
    assert patient_id not in output
    assert token not in output
