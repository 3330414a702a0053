"""The dashboard's read-only queries on SQLite and PostgreSQL: windows, limits, JSON paths, no PHI."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from cds_server.persistence.models import Decision
from cds_server.persistence.monitoring import Window
from cds_server.persistence.monitoring import job_counts
from cds_server.persistence.monitoring import model_input_rows
from cds_server.persistence.monitoring import model_outputs
from cds_server.persistence.monitoring import recent_calls
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.databases import TestDatabase

pytestmark = pytest.mark.integration

EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"


def call(client: FlaskClient, service: str) -> None:
    body = client.get(
        f"/demo/patients/{EMERY}/request", query_string={"service": service, "hook": "patient-view"}
    ).json
    assert client.post(f"/cds-services/{service}", json=body).status_code == 200


@pytest.fixture
def app(make_app: AppFactory, database: TestDatabase) -> Flask:
    return make_app(database_url=database.url)


def window(limit: int = 100, *, hours: float = 1) -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(hours=hours), now + timedelta(minutes=1), limit)


def test_calls_inputs_and_outputs_of_the_window(app: Flask) -> None:
    client = app.test_client()
    for service in ("ascvd-risk", "ascvd-risk", "news2", "risk-trajectory"):
        call(client, service)
    database = get_state(app).database
    models = get_state(app).models

    calls = recent_calls(database, window())
    assert [c.service_id for c in calls].count("ascvd-risk") == 2
    assert {c.model for c in calls if c.service_id == "ascvd-risk"} == {"ascvd-pce 1.0.0"}
    assert all(c.status == 200 and c.latency_ms > 0 for c in calls)
    assert not any(EMERY in repr(c) for c in calls)  # service, hook, status, latency, model: no one
    assert len(recent_calls(database, window(limit=2))) == 2

    rows = model_input_rows(database, "ascvd-pce", window())
    assert len(rows) == 2
    names = models.card("ascvd-pce").input_names
    assert len(rows[0]) == len(names)
    assert rows[0][names.index("age_years")] == 53.0
    outputs = model_outputs(database, "ascvd-pce", window())
    assert [o["active"]["version"] for o in outputs] == ["1.0.0", "1.0.0"]
    assert 0 < outputs[0]["active"]["outputs"]["risk_10y"] < 1

    assert recent_calls(database, window(hours=-1)) == []  # a window in the future holds nothing
    assert job_counts(database, since=datetime.now(UTC) - timedelta(hours=1)) == {
        ("risk-trajectory", "QUEUED"): 1
    }


def test_purged_inputs_are_left_out_of_drift(app: Flask, database: TestDatabase) -> None:
    client = app.test_client()
    call(client, "ascvd-risk")
    call(client, "ascvd-risk")
    with database.engine.begin() as connection:
        first = connection.execute(Decision.__table__.select().order_by(Decision.id)).first()
        assert first is not None
        purged: dict[str, Any] = {"inputs": None, "inputs_purged_at": datetime.now(UTC)}
        connection.execute(update(Decision).where(Decision.id == first.id).values(**purged))
    assert len(model_input_rows(get_state(app).database, "ascvd-pce", window())) == 1
