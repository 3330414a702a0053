"""No access token and no JWT in any stored row, nor in the logs (reliability-security §4.5 I5)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from tests.conftest import AppFactory
from tests.support.clients import as_client
from tests.support.clients import identify_clients_by_header
from tests.support.databases import EMPTYING_ORDER
from tests.support.databases import TestDatabase
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

ACCESS_TOKEN = (
    "tok-CANARY-access-7F3A"  # fhirAuthorization.access_token in tests/data/hooks/patient-view.json
)
CLIENT_JWT = (
    "eyJhbGciOiJSUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2Voci5leGFtcGxlLm9yZyIsImp0aSI6ImNhbmFyeSJ9"
    ".c2lnbmF0dXJlLUNBTkFSWS1qd3QtN0YzQQ"
)


def test_no_token_or_jwt_is_stored_or_logged(
    make_app: AppFactory, database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = identify_clients_by_header(make_app(database_url=database.url))
    client = app.test_client()
    headers = {
        "Authorization": f"Bearer {CLIENT_JWT}",
        **as_client("https://ehr.example.org/fhir", jti="jti-1"),
    }
    body = golden_request("patient-view")
    assert ACCESS_TOKEN in str(body)
    for service in ("risk-demo", "showcase", "patient-summary", "broken"):
        client.post(f"/cds-services/{service}", json=body, headers=headers)
    card = client.post("/cds-services/risk-demo", json=golden_request("patient-view"), headers=headers).json
    item = {
        "card": card["cards"][0]["uuid"],
        "outcome": "overridden",
        "overrideReason": {"userComment": "note"},
        "outcomeTimestamp": "2026-01-01T00:00:00Z",
    }
    client.post("/cds-services/risk-demo/feedback", json={"feedback": [item]}, headers=headers)

    stored: list[str] = []
    with database.engine.connect() as connection:
        for table in EMPTYING_ORDER:
            stored.extend(str(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
    assert len(stored) > 10
    dump = "\n".join(stored)
    assert "jti-1" in dump  # the token's id is the audit reference to it...
    for secret in (ACCESS_TOKEN, CLIENT_JWT, "CANARY"):
        assert secret not in dump  # ...the token itself is nowhere
        assert secret not in caplog.text
