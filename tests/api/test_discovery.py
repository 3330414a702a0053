"""GET /cds-services."""

from __future__ import annotations

import json

from flask.testing import FlaskClient

from cds_server import create_app
from tests.support.paths import DATA_DIR


def test_discovery_matches_the_golden_document(client: FlaskClient) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == json.loads((DATA_DIR / "hooks" / "discovery.golden.json").read_text())


def test_discovery_without_services_is_an_empty_list() -> None:
    response = create_app({}).test_client().get("/cds-services")
    assert response.status_code == 200
    assert response.json == {"services": []}


def test_discovery_has_one_canonical_url(client: FlaskClient) -> None:
    assert client.get("/cds-services/").status_code == 404


def test_discovery_only_answers_get(client: FlaskClient) -> None:
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json["resourceType"] == "OperationOutcome"
