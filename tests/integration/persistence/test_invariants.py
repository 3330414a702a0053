"""The invariants of the issue after a mixed, concurrent run (reliability-security §4.5 I1, I2, I4, I6).

A live server takes, from 8 threads at once: new calls, retried and simultaneous hookInstances,
invalid requests (400, 404: never accepted), calls ending 412 and 500, calls made while the audit
table is locked (503), then feedback with repeats and unknown cards. Afterwards:

* every accepted call (200, 412, 500) has exactly one audit row, found by its X-Request-ID; a
  refused call (400, 404) has none; a 503 has none or one (outcome 8), never two;
* one decision per hookInstance answered 200, and every answer for a hookInstance has its cards;
* feedback rows == distinct (card, outcome, outcomeTimestamp) keys of feedback on our cards.
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import Counter
from collections import defaultdict
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import psycopg
import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import AppFactory
from tests.support.databases import TestDatabase
from tests.support.live_server import LiveServer
from tests.support.live_server import in_parallel
from tests.support.requests import golden_request
from tests.support.requests import patient_view

pytestmark = pytest.mark.integration

Call = tuple[str, dict[str, Any]]  # (path, body)


@contextmanager
def audit_table_locked(database: TestDatabase) -> Iterator[None]:
    if database.kind == "postgresql":
        url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(url) as locker:
            locker.execute("LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE")
            yield
            locker.rollback()
        return
    assert database.engine.url.database is not None
    locker = sqlite3.connect(database.engine.url.database, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        yield
        locker.execute("ROLLBACK")
    finally:
        locker.close()


def mixed_calls(rng: random.Random) -> list[Call]:
    calls: list[Call] = [("/cds-services/risk-demo", golden_request("patient-view")) for _ in range(40)]
    twin = golden_request("patient-view")
    calls += [("/cds-services/risk-demo", twin)] * 4  # simultaneous first calls with one hookInstance
    calls += [("/cds-services/risk-demo", {**golden_request("patient-view"), "hookInstance": "x"})] * 8
    calls += [("/cds-services/no-such-service", golden_request("patient-view"))] * 4
    calls += [("/cds-services/bp-required", patient_view("1288992", prefetch={})) for _ in range(6)]
    calls += [("/cds-services/broken", golden_request("patient-view")) for _ in range(3)]
    rng.shuffle(calls)
    return calls


def test_audit_decision_and_feedback_invariants_after_a_mixed_run(
    make_app: AppFactory, database: TestDatabase, live_server: Callable[[Flask], LiveServer]
) -> None:
    rng = random.Random(20260101)
    server = live_server(make_app(database_url=database.url))
    sent: list[tuple[Call, httpx.Response]] = []

    with server.client() as http:

        def run(calls: list[Call]) -> None:
            responses = in_parallel(lambda call: http.post(call[0], json=call[1]), calls, threads=8)
            sent.extend(zip(calls, responses, strict=True))

        first = mixed_calls(rng)
        run(first)
        faulted = [("/cds-services/risk-demo", golden_request("patient-view")) for _ in range(4)]
        with audit_table_locked(database):
            run(faulted)
        answered = [call for call, response in sent if response.status_code == 200]
        run(rng.sample(answered, 15) + faulted)  # retries, including of the calls that got 503

        cards = {
            response.json()["cards"][0]["uuid"]: response.json()["cards"][0]
            for _, response in sent
            if response.status_code == 200
        }
        feedback_keys = post_feedback(http, rng, list(cards.values()))

    check_calls(database, sent)
    assert database.count("feedback") == len(feedback_keys)
    stored = {(row["card_uuid"], row["outcome"]) for row in database.rows("feedback")}
    assert stored == {(card, outcome) for card, outcome, _ in feedback_keys}


def check_calls(database: TestDatabase, sent: list[tuple[Call, httpx.Response]]) -> None:
    statuses = Counter(response.status_code for _, response in sent)
    assert set(statuses) <= {200, 400, 404, 412, 500, 503}, statuses
    assert statuses[503] == 4
    for _, response in sent:
        if response.status_code >= 500:
            assert response.json()["resourceType"] == "OperationOutcome"
        if response.status_code == 503:
            assert "Retry-After" in response.headers

    rows = database.rows("audit_event")
    per_request = Counter(row["request_id"] for row in rows)
    for _, response in sent:
        count = per_request[response.headers["X-Request-ID"]]
        if response.status_code in (200, 412, 500):
            assert count == 1, response.status_code
        elif response.status_code in (400, 404):
            assert count == 0, response.status_code
        else:
            assert count <= 1
    assert sum(per_request.values()) == len(rows)
    with database.engine.connect() as connection:
        duplicated = connection.execute(
            text("SELECT request_id FROM audit_event GROUP BY request_id HAVING count(*) <> 1")
        ).all()
    assert duplicated == []
    expected_rows = sum(1 for _, r in sent if r.status_code in (200, 412, 500))
    assert len(rows) == expected_rows + sum(1 for row in rows if row["status"] == 503)
    assert all(row["outcome"] == 8 for row in rows if row["status"] == 503)

    answers: dict[str, set[str]] = defaultdict(set)
    for (_, body), response in sent:
        if response.status_code == 200:
            answers[body["hookInstance"]].add(response.text)
    assert all(len(bodies) == 1 for bodies in answers.values()), "a hookInstance got two different answers"
    decisions = database.rows("decision")
    assert sorted(row["hook_instance"] for row in decisions) == sorted(answers)
    assert database.count("decision_card") == len(decisions)
    first_answers = [row for row in rows if row["status"] == 200 and not row["replayed"]]
    assert len(first_answers) == len(decisions)


def post_feedback(
    http: httpx.Client, rng: random.Random, cards: list[dict[str, Any]]
) -> set[tuple[str, str, str]]:
    """Feedback on 20 cards, each report sent twice (in one batch or in racing posts), plus unknown cards."""
    items: list[dict[str, Any]] = []
    for card in rng.sample(cards, 20):
        when = f"2026-01-01T10:{rng.randrange(60):02d}:00Z"
        if rng.random() < 0.5:
            items.append(
                {
                    "card": card["uuid"],
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                    "outcomeTimestamp": when,
                }
            )
        else:
            items.append({"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": when})
    unknown = [
        {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:00:00Z"}
        for _ in range(5)
    ]
    posts = [
        {"feedback": items[:10] + items[:3] + unknown},
        {"feedback": items[10:]},
        {"feedback": items[5:15]},
    ]
    posts += [{"feedback": [item]} for item in items]
    responses = in_parallel(
        lambda body: http.post("/cds-services/risk-demo/feedback", json=body), posts, threads=8
    )
    assert [r.status_code for r in responses] == [200] * len(posts)
    return {(item["card"], item["outcome"], item["outcomeTimestamp"]) for item in items}
