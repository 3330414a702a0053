"""POST /cds-services/{id}: status codes, golden responses, headers, CORS."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.paths import DATA_DIR
from tests.support.requests import golden_request
from tests.support.requests import patient_view

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PATIENT = {"resourceType": "Patient", "id": "1288992"}


def _with_placeholder_uuids(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: ("<uuid>" if k == "uuid" and UUID.match(str(v)) else _with_placeholder_uuids(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_with_placeholder_uuids(item) for item in value]
    return value


def test_showcase_card_matches_the_golden_response(client: FlaskClient) -> None:
    response = client.post("/cds-services/showcase", json=golden_request("patient-view"))
    assert response.status_code == 200
    golden = json.loads((DATA_DIR / "hooks" / "showcase-response.golden.json").read_text())
    assert _with_placeholder_uuids(response.json) == golden


def test_complete_prefetch_is_answered_without_a_fhir_server(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    body.pop("fhirServer")
    body.pop("fhirAuthorization")
    response = client.post("/cds-services/patient-summary", json=body)
    assert response.status_code == 200
    (card,) = response.json["cards"]
    assert card["summary"] == "1 blood pressure panels and 0 conditions on record"
    assert card["extension"]["tests.systolic"] == [142.0]


def test_same_id_dispatches_on_hook(client: FlaskClient) -> None:
    response = client.post("/cds-services/patient-summary", json=golden_request("order-sign"))
    assert response.status_code == 200
    assert response.json["cards"][0]["summary"] == "2 draft orders to sign"


def test_hook_not_served_by_the_service_is_400(client: FlaskClient) -> None:
    response = client.post("/cds-services/showcase", json=golden_request("order-sign"))
    assert_operation_outcome(response, 400, "invalid-hook-request")
    assert "patient-view" in response.json["issue"][0]["details"]["text"]


def test_unknown_service_is_404(client: FlaskClient) -> None:
    assert_operation_outcome(
        client.post("/cds-services/nope", json=golden_request("patient-view")), 404, "unknown-service"
    )


def test_invalid_request_lists_each_problem(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    del body["context"]["patientId"]
    body["hookInstance"] = "nope"
    response = client.post("/cds-services/showcase", json=body)
    assert_operation_outcome(response, 400, "invalid-hook-request")
    texts = [issue["details"]["text"] for issue in response.json["issue"]]
    assert any(text.startswith("hookInstance") for text in texts)


def test_required_prefetch_missing_without_fhir_server_is_412(client: FlaskClient) -> None:
    body = patient_view("1288992", prefetch={"patient": PATIENT})
    response = client.post("/cds-services/bp-required", json=body)
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert any("bloodPressure" in issue["details"]["text"] for issue in response.json["issue"])


def test_optional_prefetch_missing_without_fhir_server_still_answers(client: FlaskClient) -> None:
    response = client.post(
        "/cds-services/patient-summary", json=patient_view("1288992", prefetch={"patient": PATIENT})
    )
    assert response.status_code == 200
    assert response.json["cards"][0]["extension"]["tests.unavailable"] == ["bloodPressure", "conditions"]


def test_operation_outcome_with_fail_policy_is_412(client: FlaskClient) -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "timeout"}]}
    body = patient_view("1288992", prefetch={"patient": PATIENT, "bloodPressure": outcome})
    assert_operation_outcome(
        client.post("/cds-services/bp-outcome-fails", json=body), 412, "prefetch-unavailable"
    )


def test_a_service_bug_is_an_operation_outcome_not_a_crash(client: FlaskClient) -> None:
    response = client.post("/cds-services/broken", json=golden_request("patient-view"))
    assert_operation_outcome(response, 500, "invalid-service-response")


def test_every_response_has_request_id_and_security_headers(client: FlaskClient) -> None:
    for response in (
        client.get("/cds-services"),
        client.post("/cds-services/showcase", json=golden_request("patient-view")),
        client.post("/cds-services/nope", json={}),
    ):
        assert re.match(r"^[0-9a-f]{32}$", response.headers["X-Request-ID"])
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"


def test_a_sane_incoming_request_id_is_kept(client: FlaskClient) -> None:
    assert (
        client.get("/cds-services", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    )
    assert client.get("/cds-services", headers={"X-Request-ID": "a b;c"}).headers["X-Request-ID"] != "a b;c"


# --- CORS --------------------------------------------------------------------------------------

SANDBOX = "https://sandbox.cds-hooks.org"


def cors_app(make_app: AppFactory) -> Flask:
    return make_app(cors_origins=[SANDBOX])


def test_preflight_needs_no_credentials_on_every_route(make_app: AppFactory) -> None:
    client = cors_app(make_app).test_client()
    for path in ("/cds-services", "/cds-services/showcase"):
        response = client.options(
            path,
            headers={
                "Origin": SANDBOX,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            },
        )
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
        assert (
            "POST" in response.headers["Access-Control-Allow-Methods"]
            or "GET" in response.headers["Access-Control-Allow-Methods"]
        )
        assert "Origin" in response.headers["Vary"]


def test_cors_headers_are_on_errors_too(make_app: AppFactory) -> None:
    client = cors_app(make_app).test_client()
    response = client.post("/cds-services/nope", json={}, headers={"Origin": SANDBOX})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == SANDBOX
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]


def test_origins_outside_the_allow_list_get_no_cors_and_are_never_reflected(make_app: AppFactory) -> None:
    client = cors_app(make_app).test_client()
    response = client.get("/cds-services", headers={"Origin": "https://evil.test"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_cors_by_default(client: FlaskClient) -> None:
    assert (
        "Access-Control-Allow-Origin" not in client.get("/cds-services", headers={"Origin": SANDBOX}).headers
    )


def test_wildcard_origin_for_development(make_app: AppFactory) -> None:
    client = make_app(cors_origins=["*"]).test_client()
    assert (
        client.get("/cds-services", headers={"Origin": "http://localhost:3000"}).headers[
            "Access-Control-Allow-Origin"
        ]
        == "*"
    )
