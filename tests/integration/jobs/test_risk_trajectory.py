"""The asynchronous risk-trajectory service end to end: a Synthea patient's chart opens (the job starts,
the card says it is running), a worker reads the whole record from the FHIR server with backend
credentials and computes the trend, and the next time the chart opens the trend card is there."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine
from sqlalchemy import text

from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.services.policy import PREDICTION_EXTENSION
from cds_server.services.trend_card import JOB_EXTENSION
from cds_server.services.trend_card import TREND_EXTENSION
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.integration.jobs.conftest import SmartBackend
from tests.integration.jobs.conftest import wait_terminal
from tests.support.charts import prefetch_for
from tests.support.charts import synthea_chart
from tests.support.clients import EHR_A
from tests.support.synthea import patient_id
from tests.support.workers import WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PATIENT = "Dirk_Kuhlman"  # blood pressure 118 -> 190 mmHg and new diabetes between 2013 and 2021
NOW = "2021-06-01T00:00:00+00:00"
TOKEN_CANARY = "tok-CANARY-5d2c9e"
SERVICE = "risk-trajectory"


@pytest.fixture
def trajectory_app(make_app: AppFactory, backend_env: dict[str, str]) -> Flask:
    settings = {name.removeprefix("CDS_").lower(): value for name, value in backend_env.items()}
    return make_app(**settings, reference_time=NOW)


def hook(app: Flask, *, fhir_server: str | None) -> dict[str, Any]:
    service = get_state(app).registry.get(SERVICE, "patient-view")
    pid = patient_id(PATIENT)
    body: dict[str, Any] = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/1", "patientId": pid},
        "prefetch": prefetch_for(service, synthea_chart(PATIENT)),
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
        body["fhirAuthorization"] = {
            "access_token": TOKEN_CANARY,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "cds-server",
        }
    return body


def call(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 200, response.json
    (card,) = response.json["cards"]
    assert isinstance(card, dict)
    return card


def test_first_view_starts_the_job_a_later_view_shows_the_trend(
    trajectory_app: Flask,
    start_worker: Callable[..., WorkerProcess],
    smart_backend: SmartBackend,
    backend_env: dict[str, str],
) -> None:
    client = trajectory_app.test_client()
    fhir_server = smart_backend.server.base_url
    first = call(client, hook(trajectory_app, fhir_server=fhir_server))
    assert first["summary"] == "ASCVD risk trajectory: analysis running"
    assert first["indicator"] == "info"
    job_id = first["extension"][JOB_EXTENSION]["id"]
    (link,) = first["links"]
    assert re.fullmatch(
        rf"http://127\.0\.0\.1:8000/jobs/{job_id}/view\?exp=\d+&sig=[0-9a-f]{{64}}", link["url"]
    )
    # opened again before the job ran: the same job, not a second one
    again = call(client, hook(trajectory_app, fhir_server=fhir_server))
    assert again["extension"][JOB_EXTENSION]["id"] == job_id

    start_worker()
    owner = Owner(EHR_A)
    view = wait_terminal(trajectory_app, owner, job_id, timeout=60)
    assert view.status is JobStatus.SUCCEEDED, (view.error_code, view.error_message)
    summary = view.result
    assert summary is not None
    assert summary["history"] == "server"  # the whole record, read with backend credentials
    assert summary["scoredPoints"] >= 5
    assert summary["direction"] == "rose"

    card = call(client, hook(trajectory_app, fhir_server=fhir_server))
    text_ = card["summary"]
    print(f"\ntrend card: {text_}")
    match = re.fullmatch(
        r"10-year ASCVD risk rose from (\d+\.\d) % to (\d+\.\d) % over (\d+) years; main driver: (.+)", text_
    )
    assert match, text_
    first_value, last_value = float(match.group(1)), float(match.group(2))
    assert last_value > first_value
    trend = card["extension"][TREND_EXTENSION]
    assert trend["first"]["value"] * 100 == pytest.approx(first_value, abs=0.05)
    assert card["extension"][PREDICTION_EXTENSION]["outputs"]["risk_10y"] == pytest.approx(
        trend["last"]["value"]
    )
    # the driver is the input whose change, put back to its first value, explains most of the rise
    contributions = summary["contributions"]
    assert summary["driver"]["input"] == max(contributions, key=contributions.get)
    assert match.group(4) == summary["driver"]["label"]
    assert card["indicator"] in ("info", "warning")
    assert "| Visit |" in card["detail"]

    page = client.get(card["links"][0]["url"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<svg" in html
    assert "polyline" in html

    # the hook's access token is transient: neither the job nor anything else kept it
    engine = create_engine(backend_env["CDS_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT params::text, snapshot::text FROM job")).all()
    engine.dispose()
    assert stored
    assert all(TOKEN_CANARY not in (params + (snapshot or "")) for params, snapshot in stored)


def test_without_a_backend_the_trend_uses_the_prefetch(
    trajectory_app: Flask, start_worker: Callable[..., WorkerProcess]
) -> None:
    client = trajectory_app.test_client()
    job_id = call(client, hook(trajectory_app, fhir_server=None))["extension"][JOB_EXTENSION]["id"]
    start_worker()
    view = wait_terminal(trajectory_app, Owner(EHR_A), job_id, timeout=60)
    assert view.status is JobStatus.SUCCEEDED
    assert view.result is not None
    assert view.result["history"] == "prefetch"
    card = call(client, hook(trajectory_app, fhir_server=None))
    assert card["summary"].startswith("10-year ASCVD risk ")
