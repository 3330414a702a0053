"""POST /cds-services/{id}/feedback: stored once, linked to the card we issued, no existence oracle.

Includes the feedback items (39 to 42) of the bad-input corpus (reliability-security §4.4).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.clients import EHR_A
from tests.support.clients import EHR_B
from tests.support.clients import as_client
from tests.support.databases import TestDatabase
from tests.support.requests import golden_request

SERVICE = "/cds-services/risk-demo"
FEEDBACK = f"{SERVICE}/feedback"
WHEN = "2026-01-01T10:00:00Z"


def issue_card(client: FlaskClient, **kwargs: Any) -> dict[str, Any]:
    response = client.post(SERVICE, json=golden_request("patient-view"), **kwargs)
    assert response.status_code == 200
    card: dict[str, Any] = response.json["cards"][0]
    return card


def accepted(card: dict[str, Any], when: str = WHEN) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        "outcomeTimestamp": when,
    }


def overridden(card: dict[str, Any], when: str = WHEN, **extra: Any) -> dict[str, Any]:
    return {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when, **extra}


@pytest.fixture
def db_client(make_app: AppFactory, database: TestDatabase) -> FlaskClient:
    return make_app(database_url=database.url).test_client()


def test_accepted_feedback_is_stored_and_linked_to_the_issued_card(
    db_client: FlaskClient, database: TestDatabase
) -> None:
    card = issue_card(db_client)
    response = db_client.post(FEEDBACK, json={"feedback": [accepted(card)]})
    assert response.status_code == 200
    assert response.json == {"received": 1}
    (row,) = database.rows("feedback")
    (issued,) = database.rows("decision_card")
    assert row["decision_card_id"] == issued["id"]
    assert (row["card_uuid"], row["outcome"], row["service_id"]) == (card["uuid"], "accepted", "risk-demo")
    assert row["accepted_suggestions"] == [card["suggestions"][0]["uuid"]]
    assert row["request_id"] == response.headers["X-Request-ID"]


def test_overridden_feedback_keeps_reason_and_comment(db_client: FlaskClient, database: TestDatabase) -> None:
    card = issue_card(db_client)
    reason = {"reason": card["overrideReasons"][0], "userComment": "Discussed with patient"}
    assert (
        db_client.post(FEEDBACK, json={"feedback": [overridden(card, overrideReason=reason)]}).status_code
        == 200
    )
    (row,) = database.rows("feedback")
    assert (row["reason_system"], row["reason_code"], row["reason_display"]) == (
        "urn:cds-server:test:override",
        "patient-refuses",
        "Patient refuses",
    )
    assert row["user_comment"] == "Discussed with patient"


def test_epic_batch_with_plural_key_and_extension_reason(
    db_client: FlaskClient, database: TestDatabase
) -> None:
    first, second = issue_card(db_client), issue_card(db_client)
    batch = {
        "feedback": [
            overridden(
                first,
                overrideReasons={
                    "extension": {
                        "com.epic.cdshooks.feedback.overrideReason.reasonCategory": "45",
                        "com.epic.cdshooks.feedback.overrideReason.reasonDisplay": "Does not meet criteria",
                    },
                    "userComment": "User Entered Free Text",
                },
            ),
            accepted(second),
        ]
    }
    assert db_client.post(FEEDBACK, json=batch).json == {"received": 2}
    rows = {row["card_uuid"]: row for row in database.rows("feedback")}
    assert rows[first["uuid"]]["reason_code"] == "45"
    assert rows[first["uuid"]]["reason_system"] == "com.epic.cdshooks.feedback.overrideReason.reasonCategory"
    assert rows[second["uuid"]]["outcome"] == "accepted"


def test_repeated_feedback_is_stored_once(db_client: FlaskClient, database: TestDatabase) -> None:
    card = issue_card(db_client)
    item = overridden(card)
    same_instant = overridden(card, when="2026-01-01T11:00:00.000+01:00")
    for body in ({"feedback": [item]}, {"feedback": [item, item]}, {"feedback": [same_instant]}):
        response = db_client.post(FEEDBACK, json=body)
        assert response.status_code == 200
    assert database.count("feedback") == 1
    # a different outcome or time is a different report
    db_client.post(
        FEEDBACK, json={"feedback": [accepted(card), overridden(card, when="2026-01-01T10:05:00Z")]}
    )
    assert database.count("feedback") == 3


def test_unknown_and_other_clients_cards_get_the_same_answer_and_are_not_stored(
    db_client: FlaskClient, database: TestDatabase
) -> None:
    """Corpus 40: no existence oracle between an unknown card and another client's (or tenant's) card."""
    theirs = issue_card(db_client, headers=as_client(EHR_A))
    other_tenant = issue_card(db_client, headers=as_client(EHR_B, tenant="south"))
    ours_headers = as_client(EHR_B, tenant="north")
    unknown = {"uuid": "4a3a1b4e-0000-4000-8000-000000000000"}

    answers = [
        db_client.post(FEEDBACK, json={"feedback": [overridden(card)]}, headers=ours_headers)
        for card in (unknown, theirs, other_tenant)
    ]
    assert {answer.status_code for answer in answers} == {200}
    assert {answer.get_data() for answer in answers} == {b'{"received":1}'}
    assert database.count("feedback") == 0


def test_accepting_a_suggestion_the_card_does_not_have_is_not_stored(
    db_client: FlaskClient, database: TestDatabase
) -> None:
    card = issue_card(db_client)
    bogus = {**accepted(card), "acceptedSuggestions": [{"id": "not-one-of-ours"}]}
    assert db_client.post(FEEDBACK, json={"feedback": [bogus]}).json == {"received": 1}
    assert database.count("feedback") == 0


def test_feedback_for_another_service_is_not_linked(db_client: FlaskClient, database: TestDatabase) -> None:
    card = issue_card(db_client)
    assert (
        db_client.post("/cds-services/showcase/feedback", json={"feedback": [overridden(card)]}).status_code
        == 200
    )
    assert database.count("feedback") == 0


def test_unknown_service_is_404(client: FlaskClient) -> None:
    card = {"uuid": "4a3a1b4e-0000-4000-8000-000000000000"}
    assert_operation_outcome(
        client.post("/cds-services/nope/feedback", json={"feedback": [overridden(card)]}),
        404,
        "unknown-service",
    )


def test_corpus_39_empty_array_is_400_and_too_many_items_is_413(client: FlaskClient) -> None:
    assert_operation_outcome(client.post(FEEDBACK, json={"feedback": []}), 400, "invalid-feedback")
    card = {"uuid": "4a3a1b4e-0000-4000-8000-000000000000"}
    response = client.post(FEEDBACK, json={"feedback": [overridden(card)] * 10_000})
    assert_operation_outcome(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"outcome": "dismissed"}, "feedback[0].outcome"),
        ({"outcome": "accepted"}, "feedback[0].acceptedSuggestions"),
        ({"outcomeTimestamp": "2999-01-01T00:00:00Z"}, "feedback[0].outcomeTimestamp"),
        ({"outcomeTimestamp": "2026-01-01 10:00"}, "feedback[0].outcomeTimestamp"),
        ({"overrideReason": {}}, "feedback[0].overrideReason"),
    ],
)
def test_corpus_41_invalid_items_are_400_naming_index_and_field(
    client: FlaskClient, item: dict[str, Any], field: str
) -> None:
    card = {"uuid": "4a3a1b4e-0000-4000-8000-000000000000"}
    response = client.post(FEEDBACK, json={"feedback": [overridden(card), {**overridden(card), **item}]})
    assert_operation_outcome(response, 400, "invalid-feedback")
    texts = [issue["details"]["text"] for issue in response.json["issue"]]
    assert any(text.startswith(field.replace("[0]", "[1]")) for text in texts), texts


def test_corpus_42_a_megabyte_comment_is_400_never_echoed_nor_logged(
    db_client: FlaskClient, database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card = issue_card(db_client)
    comment = "ZZCANARY-7F3A " * 75_000  # ~1 MB
    response = db_client.post(
        FEEDBACK, json={"feedback": [overridden(card, overrideReason={"userComment": comment})]}
    )
    assert_operation_outcome(response, 400, "invalid-feedback")
    assert "ZZCANARY" not in response.get_data(as_text=True)
    assert "ZZCANARY" not in caplog.text
    assert database.count("feedback") == 0


def test_comment_of_allowed_length_is_kept_but_never_logged(
    db_client: FlaskClient, database: TestDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    card = issue_card(db_client)
    item = overridden(card, overrideReason={"userComment": "ZZCANARY-7F3A patient anxious"})
    assert db_client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200
    assert database.rows("feedback")[0]["user_comment"] == "ZZCANARY-7F3A patient anxious"
    assert "ZZCANARY" not in caplog.text


def test_limits_come_from_the_settings(make_app: AppFactory) -> None:
    client = make_app(feedback_max_items=2, feedback_max_comment_chars=5).test_client()
    card = {"uuid": "4a3a1b4e-0000-4000-8000-000000000000"}
    assert_operation_outcome(
        client.post(FEEDBACK, json={"feedback": [overridden(card)] * 3}), 413, "payload-too-large"
    )
    long_comment = overridden(card, overrideReason={"userComment": "123456"})
    assert_operation_outcome(
        client.post(FEEDBACK, json={"feedback": [long_comment]}), 400, "invalid-feedback"
    )


def test_not_json_is_rejected_like_any_call(client: FlaskClient) -> None:
    assert_operation_outcome(
        client.post(FEEDBACK, data=b"feedback", content_type="text/plain"), 415, "unsupported-media-type"
    )
    assert_operation_outcome(
        client.post(FEEDBACK, data=b"{", content_type="application/json"), 400, "invalid-json"
    )
    assert client.get(FEEDBACK).status_code == 405
