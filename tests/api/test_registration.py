"""The registration sheet (``/docs/registration*``, ``cds-server docs registration``) says what discovery
and the server's checks say: same services, hooks and prefetch; JWT audience = the exact URLs."""

from __future__ import annotations

import json

from click.testing import CliRunner
from flask.testing import FlaskClient

from cds_server.cli import main as cli

BASE = "http://127.0.0.1:8000"
DECLARED = {
    "ascvd-risk",
    "diabetes-progression",
    "news2",
    "prevent-risk",
    "risk-trajectory",
    "statin-therapy",
}


def test_the_sheet_matches_discovery(client: FlaskClient) -> None:
    sheet = client.get("/docs/registration.json").json
    discovery = client.get("/cds-services").json["services"]
    services = {service["id"]: service for service in sheet["services"]}
    assert set(services) >= DECLARED
    for entry in discovery:
        service = services[entry["id"]]
        assert entry["hook"] in service["hooks"]
        prefetch = service["prefetch"][entry["hook"]]
        assert {item["key"]: item["template"] for item in prefetch} == entry.get("prefetch", {})
        assert service["url"] == f"{BASE}/cds-services/{entry['id']}"
        assert service["jwtAudience"] == {"hook": service["url"], "feedback": f"{service['url']}/feedback"}
    assert sheet["server"]["discoveryUrl"] == f"{BASE}/cds-services"
    assert sheet["authentication"]["header"]["alg"]["default"] == ["ES384", "RS384"]


def test_scopes_cards_and_models_of_the_declared_services(client: FlaskClient) -> None:
    services = {s["id"]: s for s in client.get("/docs/registration.json").json["services"]}
    ascvd = services["ascvd-risk"]
    assert "patient/Observation.read" in ascvd["fhirAuthorizationScopes"]
    assert "patient/Observation.rs" in ascvd["fhirAuthorizationScopes"]
    assert ascvd["model"] == {"id": "ascvd-pce", "version": "1.0.0", "card": f"{BASE}/models/ascvd-pce"}
    assert ascvd["cards"]["topic"] == {
        "system": "urn:cds-server:card-type", "code": "ascvd-risk-10y", "display": "10-year ASCVD risk",
    }  # fmt: skip
    assert ascvd["cards"]["indicators"] == ["info", "warning"]
    assert services["news2"]["cards"]["indicators"] == ["info", "warning", "critical"]

    statin = services["statin-therapy"]
    assert statin["hooks"] == ["order-select", "order-sign"]
    assert statin["cards"]["indicators"] == ["warning"]  # silent when it cannot score
    (suggestion,) = statin["cards"]["suggestions"]
    assert (suggestion["action"], suggestion["resourceType"]) == ("create", "MedicationRequest")
    assert len(statin["cards"]["overrideReasons"]) == 6

    trajectory_links = [link["url"] for link in services["risk-trajectory"]["cards"]["links"]]
    assert f"{BASE}/jobs/{{job id}}/view" in trajectory_links

    coded = services["patient-summary"]  # registered in Python (tests/support/services.py)
    assert coded["cards"] is None
    assert coded["model"] is None
    assert coded["hooks"] == ["order-sign", "patient-view"]


def test_the_page_and_the_markdown(client: FlaskClient) -> None:
    page = client.get("/docs/registration")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.get_data(as_text=True)
    assert all(f'id="{service}"' in text for service in DECLARED)
    markdown = client.get("/docs/registration.md")
    assert markdown.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert (
        f"| Service URL (JWT `aud` of a hook call) | `{BASE}/cds-services/ascvd-risk` |"
        in markdown.get_data(as_text=True)
    )


def test_the_cli_prints_the_sheet_without_a_database() -> None:
    runner = CliRunner()
    markdown = runner.invoke(cli, ["docs", "registration"])
    assert markdown.exit_code == 0, markdown.output
    assert markdown.output.startswith("# Registering cds-server")
    assert "## Statin therapy for primary prevention (`statin-therapy`)" in markdown.output
    as_json = runner.invoke(cli, ["docs", "registration", "--format", "json"])
    assert {s["id"] for s in json.loads(as_json.output)["services"]} == DECLARED
