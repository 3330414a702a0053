"""``GET /metrics``: what a hook call, feedback, a FHIR failure and a job leave in the Prometheus metrics,
with labels bounded by the registries (never a patient id, never a client-chosen string).

The metrics are process-wide (every app of the test session shares them), so each test compares
before and after.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import AppFactory
from tests.support.fhir_server import free_port
from tests.support.requests import patient_view

EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"  # the demo's diabetic patient


def samples(client: FlaskClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def demo_request(client: FlaskClient, service: str, hook: str, **args: str) -> dict[str, object]:
    response = client.get(
        f"/demo/patients/{EMERY}/request", query_string={"service": service, "hook": hook, **args}
    )
    assert response.status_code == 200
    body: dict[str, object] = response.json
    return body


def test_a_hook_call_counts_its_latency_cards_and_model_run(client: FlaskClient) -> None:
    before = samples(client)
    response = client.post(
        "/cds-services/ascvd-risk", json=demo_request(client, "ascvd-risk", "patient-view")
    )
    assert response.status_code == 200
    (card,) = response.json["cards"]
    after = samples(client)

    call = {"service": "ascvd-risk", "hook": "patient-view", "status": "200"}
    name = "cds_hook_request_duration_seconds_count"
    assert value(after, name, **call) == value(before, name, **call) + 1
    assert value(after, "cds_hook_request_duration_seconds_sum", **call) > value(
        before, "cds_hook_request_duration_seconds_sum", **call
    )
    cards = {"service": "ascvd-risk", "indicator": card["indicator"]}
    assert value(after, "cds_cards_total", **cards) == value(before, "cds_cards_total", **cards) + 1
    model = {"model": "ascvd-pce", "version": "1.0.0", "provider": "CPUExecutionProvider", "role": "active"}
    runs = "cds_inference_duration_seconds_count"
    assert value(after, runs, **model) == value(before, runs, **model) + 1
    assert value(after, "cds_model_ready", **model) == 1


def test_client_chosen_strings_never_become_label_values(client: FlaskClient) -> None:
    made_up_service, made_up_hook = f"svc-{uuid.uuid4().hex}", f"hook-{uuid.uuid4().hex}"
    before = samples(client)
    assert client.post(f"/cds-services/{made_up_service}", json=patient_view(EMERY)).status_code == 404
    body = patient_view(EMERY, hook=made_up_hook)
    assert client.post("/cds-services/ascvd-risk", json=body).status_code == 400
    assert client.open("/healthz", method="BREW").status_code == 405
    text = client.get("/metrics").get_data(as_text=True)
    after = samples(client)

    assert made_up_service not in text
    assert made_up_hook not in text
    assert "BREW" not in text
    assert EMERY not in text  # the patient of every call here
    name = "cds_hook_request_duration_seconds_count"
    unknown = {"service": "other", "hook": "other", "status": "404"}
    bad_hook = {"service": "ascvd-risk", "hook": "other", "status": "400"}
    assert value(after, name, **unknown) == value(before, name, **unknown) + 1
    assert value(after, name, **bad_hook) == value(before, name, **bad_hook) + 1


def test_feedback_is_counted_by_outcome(client: FlaskClient) -> None:
    body = demo_request(client, "statin-therapy", "order-select", drug="314076")
    (card,) = client.post("/cds-services/statin-therapy", json=body).json["cards"]
    before = samples(client)
    now = datetime.now(UTC).isoformat()
    feedback = [
        {"card": card["uuid"], "outcome": "accepted", "outcomeTimestamp": now,
         "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}]},
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now},
    ]  # fmt: skip
    response = client.post("/cds-services/statin-therapy/feedback", json={"feedback": feedback})
    assert response.status_code == 200
    after = samples(client)
    for outcome in ("accepted", "overridden"):
        labels = {"service": "statin-therapy", "outcome": outcome}
        assert (
            value(after, "cds_feedback_total", **labels) == value(before, "cds_feedback_total", **labels) + 1
        )


def test_a_fhir_server_that_cannot_be_reached_is_counted_by_resource_type_and_reason(
    make_app: AppFactory,
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/fhir"  # nothing listens there
    app = make_app(
        fhir_servers=[closed], fhir_open_servers=[closed], fhir_allow_http=True, fhir_allow_private=True
    )
    client = app.test_client()
    before = samples(client)
    response = client.post("/cds-services/bp-required", json=patient_view(EMERY, fhirServer=closed))
    assert response.status_code == 412
    after = samples(client)
    for resource_type in ("Patient", "Observation"):
        errors = {"resource_type": resource_type, "reason": "connection-failed"}
        assert value(after, "cds_fhir_fetch_errors_total", **errors) == (
            value(before, "cds_fhir_fetch_errors_total", **errors) + 1
        )
        fetches = {"resource_type": resource_type, "outcome": "connection-failed"}
        name = "cds_fhir_fetch_duration_seconds_count"
        assert value(after, name, **fetches) == value(before, name, **fetches) + 1


def test_jobs_are_counted_by_kind_and_status_from_the_database(client: FlaskClient) -> None:
    before = samples(client)
    # the asynchronous service starts a job on the first view of a patient
    body = demo_request(client, "risk-trajectory", "patient-view")
    assert client.post("/cds-services/risk-trajectory", json=body).status_code == 200
    after = samples(client)
    queued = {"kind": "risk-trajectory", "status": "QUEUED"}
    assert value(after, "cds_jobs", **queued) == value(before, "cds_jobs", **queued) + 1
    assert value(after, "cds_database_up") == 1
    assert value(after, "cds_build_info", version="0.1.0") == 1


def test_other_endpoints_are_counted_by_flask_endpoint(client: FlaskClient) -> None:
    before = samples(client)
    client.get("/healthz")
    client.get(f"/no-such-page-{uuid.uuid4().hex}")
    after = samples(client)
    name = "cds_http_request_duration_seconds_count"
    for labels in (
        {"endpoint": "health.healthz", "method": "GET", "status": "200"},
        {"endpoint": "unmatched", "method": "GET", "status": "404"},
    ):
        assert value(after, name, **labels) == value(before, name, **labels) + 1


@pytest.mark.parametrize(
    ("broker", "ok", "kind"),
    [
        (None, True, "embedded"),
        ("redis://127.0.0.1:6379/15", True, "redis"),
        ("amqp://guest:guest@127.0.0.1:5672//", True, "amqp"),
        (f"redis://127.0.0.1:{free_port()}/0", False, "redis"),
    ],
)
def test_readiness_reports_the_job_broker(
    make_app: AppFactory, broker: str | None, ok: bool, kind: str
) -> None:
    app: Flask = make_app(**({"broker_url": broker} if broker else {}))
    response = app.test_client().get("/readyz")
    # a broker outage delays jobs (they wait in the outbox) but stops no hook: degraded, still 200
    assert response.status_code == 200
    assert response.json["checks"]["broker"]["ok"] is ok
    assert response.json["checks"]["broker"]["kind"] == kind
    assert response.json["status"] == ("ready" if ok else "degraded")
    if not ok:
        assert response.json["checks"]["broker"]["reason"].startswith("broker not reachable")
        assert "127.0.0.1" not in response.json["checks"]["broker"]["reason"]
