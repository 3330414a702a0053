"""Feedback under concurrency, and the acceptance / override rates computed from it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from flask import Flask

from cds_server.persistence.analytics import feedback_rates
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.databases import TestDatabase
from tests.support.live_server import LiveServer
from tests.support.live_server import in_parallel
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

SERVICE = "/cds-services/risk-demo"


def test_32_concurrent_identical_posts_store_one_row(
    make_app: AppFactory, database: TestDatabase, live_server: Callable[[Flask], LiveServer]
) -> None:
    server = live_server(make_app(database_url=database.url))
    with server.client() as http:
        card = http.post(SERVICE, json=golden_request("patient-view")).json()["cards"][0]
    body = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": card["suggestions"][1]["uuid"]}],
                "outcomeTimestamp": "2026-01-01T10:00:00Z",
            }
        ]
    }

    with server.client() as http:
        responses = in_parallel(lambda _: http.post(f"{SERVICE}/feedback", json=body), range(32), threads=32)
    assert [r.status_code for r in responses] == [200] * 32
    assert {r.content for r in responses} == {b'{"received":1}'}
    assert database.count("feedback") == 1


def feedback(card: dict[str, Any], outcome: str, when: str, reason: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"card": card["uuid"], "outcome": outcome, "outcomeTimestamp": when}
    if outcome == "accepted":
        item["acceptedSuggestions"] = [{"id": card["suggestions"][0]["uuid"]}]
    if reason is not None:
        item["overrideReason"] = {"reason": card["overrideReasons"][reason]}
    return item


def test_rates_per_service_model_version_and_reason(make_app: AppFactory, database: TestDatabase) -> None:
    app = make_app(database_url=database.url)
    client = app.test_client()
    cards = [client.post(SERVICE, json=golden_request("patient-view")).json["cards"][0] for _ in range(5)]
    showcase = client.post("/cds-services/showcase", json=golden_request("patient-view")).json["cards"][0]
    items = [
        feedback(cards[0], "accepted", "2026-01-01T10:00:00Z"),
        feedback(cards[1], "overridden", "2026-01-02T10:00:00Z", reason=0),
        feedback(cards[2], "overridden", "2026-01-03T10:00:00Z", reason=0),
        feedback(cards[3], "overridden", "2026-01-04T10:00:00Z", reason=1),
        feedback(cards[4], "overridden", "2026-02-01T10:00:00Z"),
    ]
    assert client.post(f"{SERVICE}/feedback", json={"feedback": items}).status_code == 200
    showcase_items = [feedback(showcase, "accepted", "2026-01-05T10:00:00Z")]
    assert (
        client.post("/cds-services/showcase/feedback", json={"feedback": showcase_items}).status_code == 200
    )

    database_ = get_state(app).database
    demo, other = feedback_rates(database_)
    assert (demo.service_id, demo.model_id, demo.model_version) == ("risk-demo", "demo-risk", "1.0.0")
    assert (demo.total, demo.accepted, demo.overridden) == (5, 1, 4)
    assert (demo.acceptance_rate, demo.override_rate) == (0.2, 0.8)
    assert [(r.code, r.display, r.count) for r in demo.override_reasons] == [
        ("patient-refuses", "Patient refuses", 2),
        ("not-applicable", "Not applicable", 1),
    ]
    assert (other.service_id, other.model_id, other.total, other.acceptance_rate) == (
        "showcase",
        None,
        1,
        1.0,
    )

    january = feedback_rates(
        database_,
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 1, tzinfo=UTC),
        service_id="risk-demo",
    )
    assert len(january) == 1
    (january_demo,) = january
    assert (january_demo.total, january_demo.overridden) == (4, 3)
