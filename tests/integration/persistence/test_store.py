"""Audit rows and decisions through the real app, on SQLite and PostgreSQL: record, replay, races."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from cds_server.hooks.cards import HookResponse
from cds_server.persistence.database import canonical_json
from tests.conftest import AppFactory
from tests.support.clients import EHR_A
from tests.support.clients import EHR_B
from tests.support.clients import SigningClient
from tests.support.clients import as_client
from tests.support.databases import TestDatabase
from tests.support.live_server import LiveServer
from tests.support.live_server import in_parallel
from tests.support.requests import golden_request
from tests.support.requests import patient_view
from tests.support.services import DEMO_MODEL
from tests.support.services import DEMO_SHADOW
from tests.support.services import RENDEZVOUS

pytestmark = pytest.mark.integration

URL = "/cds-services/risk-demo"


def model_row(model: Any) -> dict[str, str]:
    return {
        "model_id": model.model_id,
        "version": model.version,
        "sha256": model.sha256,
        "provider": model.provider,
        "role": model.role,
    }


def test_an_accepted_call_commits_one_audit_row_and_one_decision(
    make_app: AppFactory, database: TestDatabase
) -> None:
    client = make_app(database_url=database.url).test_client()
    body = golden_request("patient-view")
    response = client.post(URL, json=body)
    assert response.status_code == 200
    (card,) = response.json["cards"]

    (audit,) = database.rows("audit_event")
    (decision,) = database.rows("decision")
    assert audit["request_id"] == response.headers["X-Request-ID"]
    assert (audit["status"], audit["outcome"], audit["error_code"], audit["replayed"]) == (
        200,
        0,
        None,
        False,
    )
    assert audit["decision_id"] == decision["id"]
    assert audit["card_uuids"] == [card["uuid"]]
    assert audit["models"] == [model_row(DEMO_MODEL), model_row(DEMO_SHADOW)]
    assert (audit["hook"], audit["hook_instance"], audit["service_id"]) == (
        "patient-view",
        body["hookInstance"],
        "risk-demo",
    )
    assert (audit["patient_ref"], audit["user_ref"]) == ("Patient/1288992", "Practitioner/example")
    assert isinstance(client, SigningClient)
    assert (audit["client_issuer"], audit["client_tenant"]) == (EHR_A, "")
    assert audit["token_jti"] == client.last_jti
    assert audit["fhir_calls"] == {}
    assert {item["key"] for item in audit["prefetch"]} == {"patient", "bloodPressure"}
    assert audit["latency_ms"] > 0

    assert HookResponse.model_validate(decision["response"]).to_wire() == response.json
    assert decision["inputs"]["systolic_bp"]["value"] == 142.0
    assert decision["inputs_sha256"] == hashlib.sha256(canonical_json(decision["inputs"])).hexdigest()
    assert decision["outputs"] == {
        "demo-risk@1.0.0": {"risk": 0.105},
        "demo-risk@2.0.0-rc1": {"risk": 0.1155},
    }
    assert decision["notes"] == []

    (issued,) = database.rows("decision_card")
    assert issued["card_uuid"] == card["uuid"]
    assert issued["suggestion_uuids"] == [s["uuid"] for s in card["suggestions"]]
    assert [(m["version"], m["role"]) for m in database.rows("decision_model")] == [
        ("1.0.0", "active"),
        ("2.0.0-rc1", "shadow"),
    ]


def test_a_retried_hook_instance_gets_the_same_cards_and_no_second_decision(
    make_app: AppFactory, database: TestDatabase
) -> None:
    client = make_app(database_url=database.url).test_client()
    body = golden_request("patient-view")
    first = client.post(URL, json=body)
    again = client.post(URL, json=body)
    assert again.status_code == 200
    assert again.get_data() == first.get_data()  # same cards, same uuids, byte for byte

    first_row, again_row = database.rows("audit_event")
    assert database.count("decision") == 1
    assert (first_row["replayed"], again_row["replayed"]) == (False, True)
    assert again_row["decision_id"] == first_row["decision_id"]
    assert again_row["card_uuids"] == first_row["card_uuids"]
    assert again_row["models"] == first_row["models"]
    assert again_row["request_id"] != first_row["request_id"]


def test_replay_is_per_client_and_tenant(make_app: AppFactory, database: TestDatabase) -> None:
    client = make_app(database_url=database.url).test_client()
    body = golden_request("patient-view")
    ehr_a = client.post(URL, json=body, headers=as_client(EHR_A, tenant="north"))
    ehr_a_again = client.post(URL, json=body, headers=as_client(EHR_A, tenant="north"))
    other_tenant = client.post(URL, json=body, headers=as_client(EHR_A, tenant="south"))
    other_ehr = client.post(URL, json=body, headers=as_client(EHR_B, tenant="north"))
    cards = [r.json["cards"][0]["uuid"] for r in (ehr_a, ehr_a_again, other_tenant, other_ehr)]
    assert cards[0] == cards[1]
    assert len({cards[0], cards[2], cards[3]}) == 3
    assert database.count("decision") == 3
    assert database.count("audit_event") == 4


def test_failed_accepted_calls_are_audited_without_a_decision(
    make_app: AppFactory, database: TestDatabase
) -> None:
    client = make_app(database_url=database.url).test_client()
    missing = client.post("/cds-services/bp-required", json=patient_view("1288992", prefetch={}))
    broken = client.post("/cds-services/broken", json=golden_request("patient-view"))
    assert (missing.status_code, broken.status_code) == (412, 500)
    by_request = {row["request_id"]: row for row in database.rows("audit_event")}
    assert set(by_request) == {missing.headers["X-Request-ID"], broken.headers["X-Request-ID"]}
    row_412 = by_request[missing.headers["X-Request-ID"]]
    row_500 = by_request[broken.headers["X-Request-ID"]]
    assert (row_412["status"], row_412["outcome"], row_412["error_code"]) == (412, 4, "prefetch-unavailable")
    assert (row_500["status"], row_500["outcome"], row_500["error_code"]) == (
        500,
        12,
        "invalid-service-response",
    )
    assert row_412["decision_id"] is None
    assert row_412["card_uuids"] == []
    assert database.count("decision") == 0


def test_calls_that_were_never_accepted_leave_no_row(make_app: AppFactory, database: TestDatabase) -> None:
    client = make_app(database_url=database.url).test_client()
    body = golden_request("patient-view")
    assert client.post("/cds-services/nope", json=body).status_code == 404
    assert client.post(URL, json={**body, "hookInstance": "not-a-uuid"}).status_code == 400
    assert client.post(URL, json=golden_request("order-sign")).status_code == 400
    assert client.post(URL, data=b"{", content_type="application/json").status_code == 400
    assert database.count("audit_event") == 0


@pytest.mark.parametrize("parties", [2, 6])
def test_concurrent_identical_first_calls_end_with_one_decision(
    make_app: AppFactory,
    database: TestDatabase,
    live_server: Callable[[Flask], LiveServer],
    parties: int,
) -> None:
    server = live_server(make_app(database_url=database.url))
    body = golden_request("patient-view")
    RENDEZVOUS.arm(parties)  # every call waits inside the service until all have passed the replay check
    try:
        with server.client() as http:
            responses = in_parallel(lambda _: http.post(URL, json=body), range(parties), threads=parties)
    finally:
        RENDEZVOUS.disarm()

    assert [r.status_code for r in responses] == [200] * parties
    assert len({r.content for r in responses}) == 1, "the losers answer with the winner's cards"
    answers = [r.json() for r in responses]
    assert database.count("decision") == 1
    assert database.count("decision_card") == 1
    rows = database.rows("audit_event")
    assert len(rows) == parties
    assert sorted(row["replayed"] for row in rows) == [False] + [True] * (parties - 1)
    assert {tuple(row["card_uuids"]) for row in rows} == {(answers[0]["cards"][0]["uuid"],)}
    assert len({row["decision_id"] for row in rows}) == 1
