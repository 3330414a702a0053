"""GET /audit (FHIR R4 AuditEvent Bundle) and GET /analytics/feedback, behind CDS_ADMIN_TOKEN."""

from __future__ import annotations

from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
from fhir.resources.R4B.auditevent import AuditEvent
from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.databases import TestDatabase
from tests.support.requests import golden_request
from tests.support.requests import patient_view

TOKEN = "test-admin-token-0123456789abcdef-xyz"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
ENDPOINTS = ["/audit", "/analytics/feedback"]


@pytest.fixture
def admin_client(make_app: AppFactory, database: TestDatabase) -> FlaskClient:
    return make_app(database_url=database.url, admin_token=TOKEN).test_client()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_without_a_configured_token_the_endpoints_do_not_exist(client: FlaskClient, path: str) -> None:
    assert_operation_outcome(client.get(path), 404, "not-found")
    assert_operation_outcome(client.get(path, headers=ADMIN), 404, "not-found")


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_missing_or_wrong_token_gets_one_and_the_same_401(make_app: AppFactory, path: str) -> None:
    client = make_app(admin_token=TOKEN).test_client()
    answers = [
        client.get(path),
        client.get(path, headers={"Authorization": f"Bearer {TOKEN}x"}),
        client.get(path, headers={"Authorization": f"Basic {TOKEN}"}),
        client.get(path, headers={"Authorization": TOKEN}),
    ]
    for answer in answers:
        assert_operation_outcome(answer, 401, "unauthorized")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert len({answer.get_data() for answer in answers}) == 1


def test_a_short_admin_token_is_refused_at_start_up(make_app: AppFactory) -> None:
    with pytest.raises(ValueError, match="CDS_ADMIN_TOKEN"):
        make_app(admin_token="short")


def test_audit_export_is_a_valid_fhir_r4_bundle_of_audit_events(admin_client: FlaskClient) -> None:
    ok = admin_client.post("/cds-services/risk-demo", json=golden_request("patient-view"))
    missing = admin_client.post("/cds-services/bp-required", json=patient_view("1288992", prefetch={}))
    response = admin_client.get("/audit", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/fhir+json; charset=utf-8"
    bundle = Bundle.model_validate(response.json)
    assert bundle.type == "searchset"
    events = [AuditEvent.model_validate(entry["resource"]) for entry in response.json["entry"]]
    assert [event.outcome for event in events] == ["0", "4"]
    request_ids = [
        entity.what.identifier.value
        for event in events
        for entity in event.entity or []
        if entity.type is not None and entity.type.code == "XrequestId"
    ]
    assert request_ids == [ok.headers["X-Request-ID"], missing.headers["X-Request-ID"]]
    card_entities = [
        entity.what.identifier.value
        for entity in events[0].entity or []
        if entity.what.identifier is not None and entity.what.identifier.system == "urn:cds-server:card"
    ]
    assert card_entities == [ok.json["cards"][0]["uuid"]]


def test_audit_export_filters_by_patient_and_time(admin_client: FlaskClient) -> None:
    admin_client.post("/cds-services/risk-demo", json=golden_request("patient-view"))
    admin_client.post(
        "/cds-services/showcase",
        json=patient_view("other-patient", prefetch={"patient": {"resourceType": "Patient"}}),
    )

    def patients(query: str) -> list[str]:
        body = admin_client.get(f"/audit?{query}", headers=ADMIN).json
        return [entry["resource"]["entity"][0]["what"]["reference"] for entry in body["entry"]]

    assert patients("") == ["Patient/1288992", "Patient/other-patient"]
    assert patients("patient=Patient/1288992") == ["Patient/1288992"]
    assert patients("patient=other-patient") == ["Patient/other-patient"]
    assert patients("since=2000-01-01&until=2999-01-01T00:00:00Z") == [
        "Patient/1288992",
        "Patient/other-patient",
    ]
    assert patients("until=2000-01-01T00:00:00Z") == []
    assert patients("since=2999-01-01") == []


def test_audit_export_pages_with_a_next_link(admin_client: FlaskClient) -> None:
    for _ in range(5):
        admin_client.post("/cds-services/risk-demo", json=golden_request("patient-view"))
    seen: list[str] = []
    url = "/audit?_count=2"
    pages = 0
    while url:
        body = admin_client.get(url, headers=ADMIN).json
        Bundle.model_validate(body)
        seen.extend(entry["resource"]["id"] for entry in body["entry"])
        pages += 1
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = ""
        if following:
            parts = urlsplit(following[0])
            assert parse_qs(parts.query)["_count"] == ["2"]
            url = f"{parts.path}?{parts.query}"
    assert pages == 3
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    "query",
    [
        "since=yesterday",
        "until=2026-01-01T00:00:00",
        "patient=../Practitioner/1",
        "_count=0000",
        "_count=5000",
        "_cursor=-17",
    ],
)
def test_bad_query_parameters_are_400_without_echo(admin_client: FlaskClient, query: str) -> None:
    response = admin_client.get(f"/audit?{query}", headers=ADMIN)
    assert_operation_outcome(response, 400, "bad-request")
    value = query.split("=", 1)[1]
    assert value not in response.json["issue"][0]["details"]["text"]


def test_feedback_analytics(admin_client: FlaskClient) -> None:
    card = admin_client.post("/cds-services/risk-demo", json=golden_request("patient-view")).json["cards"][0]
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "overrideReason": {"reason": card["overrideReasons"][1]},
        "outcomeTimestamp": "2026-01-01T10:00:00Z",
    }
    assert admin_client.post("/cds-services/risk-demo/feedback", json={"feedback": [item]}).status_code == 200
    response = admin_client.get("/analytics/feedback?since=2026-01-01&service=risk-demo", headers=ADMIN)
    assert response.status_code == 200
    assert response.json == {
        "since": "2026-01-01T00:00:00Z",
        "until": None,
        "groups": [
            {
                "serviceId": "risk-demo",
                "model": {"id": "demo-risk", "version": "1.0.0"},
                "feedback": 1,
                "accepted": 0,
                "overridden": 1,
                "acceptanceRate": 0.0,
                "overrideRate": 1.0,
                "overrideReasons": [
                    {
                        "system": "urn:cds-server:test:override",
                        "code": "not-applicable",
                        "display": "Not applicable",
                        "count": 1,
                    }
                ],
            }
        ],
    }
    later = admin_client.get("/analytics/feedback?since=2026-01-02", headers=ADMIN).json
    assert later["groups"] == []
