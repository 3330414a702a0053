"""The audit trail is append-only in the database itself, for the application and everyone else."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from tests.conftest import AppFactory
from tests.support.databases import TestDatabase
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET status = 200, outcome = 0",
        "UPDATE audit_event SET patient_ref = NULL",
        "DELETE FROM audit_event",
        "DELETE FROM audit_event WHERE id = (SELECT max(id) FROM audit_event)",
    ],
)
def test_update_and_delete_are_refused(make_app: AppFactory, database: TestDatabase, statement: str) -> None:
    client = make_app(database_url=database.url).test_client()
    assert client.post("/cds-services/risk-demo", json=golden_request("patient-view")).status_code == 200
    before = database.rows("audit_event")
    with pytest.raises(DatabaseError, match="append-only"), database.engine.begin() as connection:
        connection.execute(text(statement))
    assert database.rows("audit_event") == before


def test_truncate_is_refused_on_postgresql(make_app: AppFactory, pg_database: TestDatabase) -> None:
    client = make_app(database_url=pg_database.url).test_client()
    assert client.post("/cds-services/risk-demo", json=golden_request("patient-view")).status_code == 200
    with pytest.raises(DatabaseError, match="append-only"), pg_database.engine.begin() as connection:
        connection.execute(text("TRUNCATE audit_event"))
    assert pg_database.count("audit_event") == 1


def test_inserting_stays_possible(database: TestDatabase) -> None:
    with database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_event (recorded_at, received_at, request_id, client_issuer, client_tenant,"
                " service_id, hook, hook_instance, status, outcome, latency_ms, replayed, card_uuids, models,"
                " fhir_calls, prefetch, server_version) VALUES (:t, :t, 'r', 'i', '', 's', 'h', 'hi', 200, 0,"
                " 1.0, false, '[]', '[]', '{}', '[]', 'v')"
            ),
            {"t": "2026-01-01T00:00:00+00:00"},
        )
    assert database.count("audit_event") == 1
