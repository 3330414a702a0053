"""GET /cds-services."""

from __future__ import annotations

import json
from pathlib import Path

from flask.testing import FlaskClient

from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.paths import DATA_DIR


def test_discovery_matches_the_golden_document(make_app: AppFactory, tmp_path: Path) -> None:
    # the callable test services only: model-backed services are checked below
    response = make_app(services_dir=str(tmp_path)).test_client().get("/cds-services")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.json == json.loads((DATA_DIR / "hooks" / "discovery.golden.json").read_text())


def test_discovery_without_services_is_an_empty_list(make_app: AppFactory, tmp_path: Path) -> None:
    response = make_app(services_dir=str(tmp_path), service_modules=[]).test_client().get("/cds-services")
    assert response.status_code == 200
    assert response.json == {"services": []}


def test_model_backed_services_are_discovered_with_their_mappings_prefetch(make_app: AppFactory) -> None:
    app = make_app(service_modules=[])
    services = {(s["id"], s["hook"]): s for s in app.test_client().get("/cds-services").json["services"]}
    assert set(services) == {
        ("ascvd-risk", "patient-view"),
        ("diabetes-progression", "patient-view"),
        ("news2", "patient-view"),
        ("news2", "encounter-start"),
        ("prevent-risk", "patient-view"),
        ("risk-trajectory", "patient-view"),
        ("statin-therapy", "order-select"),
        ("statin-therapy", "order-sign"),
    }
    mappings = get_state(app).mappings
    assert services[("ascvd-risk", "patient-view")]["prefetch"] == mappings.get("ascvd_pce").prefetch
    for service in services.values():
        assert service["title"]
        assert service["description"]
        assert service["usageRequirements"]


def test_discovery_has_one_canonical_url(client: FlaskClient) -> None:
    assert client.get("/cds-services/").status_code == 404


def test_discovery_only_answers_get(client: FlaskClient) -> None:
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert response.json["resourceType"] == "OperationOutcome"
