"""No access token and no JWT in any stored row, nor in the logs (reliability-security §4.5 I5)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from tests.conftest import AppFactory
from tests.support.clients import EHR_A
from tests.support.clients import public_url
from tests.support.clients import token_for
from tests.support.databases import EMPTYING_ORDER
from tests.support.databases import TestDatabase
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

ACCESS_TOKEN = (
    "tok-CANARY-access-7F3A"  # fhirAuthorization.access_token in tests/data/hooks/patient-view.json
)


def test_no_token_or_jwt_is_stored_or_logged(
    make_app: AppFactory, database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = make_app(database_url=database.url)
    client = app.test_client()
    sent: list[str] = []

    def signed(path: str, *, jti: str | None = None) -> dict[str, str]:
        claims = {"jti": jti} if jti else {}
        sent.append(token_for(public_url(app, path), EHR_A, claims=claims))
        return {"Authorization": f"Bearer {sent[-1]}"}

    body = golden_request("patient-view")
    assert ACCESS_TOKEN in str(body)
    for service in ("risk-demo", "showcase", "patient-summary", "broken"):
        path = f"/cds-services/{service}"
        client.post(path, json=body, headers=signed(path, jti=f"jti-{service}"))
    path = "/cds-services/risk-demo"
    card = client.post(path, json=golden_request("patient-view"), headers=signed(path)).json
    item = {
        "card": card["cards"][0]["uuid"],
        "outcome": "overridden",
        "overrideReason": {"userComment": "note"},
        "outcomeTimestamp": "2026-01-01T00:00:00Z",
    }
    path = "/cds-services/risk-demo/feedback"
    client.post(path, json={"feedback": [item]}, headers=signed(path))
    # a refused token (replayed) is logged and stored as a security event: without the token
    assert (
        client.post(
            path, json={"feedback": [item]}, headers={"Authorization": f"Bearer {sent[-1]}"}
        ).status_code
        == 401
    )

    stored: list[str] = []
    with database.engine.connect() as connection:
        for table in EMPTYING_ORDER:
            stored.extend(str(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}")))
    assert len(stored) > 10
    dump = "\n".join(stored)
    assert "jti-risk-demo" in dump  # the token's id is the audit reference to it...
    assert database.count("security_event") == 1
    for secret in (ACCESS_TOKEN, "CANARY", *sent):
        assert secret not in dump  # ...the token itself is nowhere
        assert secret not in caplog.text
