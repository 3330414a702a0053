"""Fail closed: when the audit row cannot be committed in time, the answer is 503 without cards.

PostgreSQL is made unreachable with a loopback FaultProxy in front of it (blackhole: connections
accepted, nothing answered; reset: connections refused) and slow with ``LOCK TABLE … IN ACCESS
EXCLUSIVE MODE`` from a second session. SQLite is locked with ``BEGIN EXCLUSIVE`` from a second
connection. The shared PostgreSQL server itself is never stopped.

The apps here keep their JWT replay store in Redis, so the database fault reaches the audit step; with
the embedded replay store (the database) the same faults stop the call one step earlier, at
authentication, also with a 503 (tests/integration/security/test_replay_store.py).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.databases import TestDatabase
from tests.support.fault_proxy import FaultProxy
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

URL = "/cds-services/risk-demo"
DEADLINE_S = 2.5


def timed_post(client: FlaskClient, body: dict[str, Any]) -> tuple[TestResponse, float]:
    started = time.monotonic()
    response = client.post(URL, json=body)
    return response, time.monotonic() - started


def assert_failed_closed(response: TestResponse, elapsed: float) -> None:
    assert_operation_outcome(response, 503, "audit-unavailable")
    assert response.headers["Retry-After"] == "2"
    assert "cards" not in response.json
    assert elapsed < DEADLINE_S, f"503 after {elapsed:.2f} s, past the {DEADLINE_S} s deadline"


def answered_again(client: FlaskClient, *, within_s: float = 5.0) -> list[TestResponse]:
    """Calls until one is answered 200 (the database is back); every response, in order."""
    responses: list[TestResponse] = []
    end = time.monotonic() + within_s
    while time.monotonic() < end:
        responses.append(client.post(URL, json=golden_request("patient-view")))
        if responses[-1].status_code == 200:
            return responses
        assert_operation_outcome(responses[-1], 503, "audit-unavailable")
        time.sleep(0.2)
    raise AssertionError("the database did not come back")


@contextmanager
def postgres_lock(database: TestDatabase, table: str) -> Iterator[None]:
    url = database.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as locker:
        locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        yield
        locker.rollback()


@pytest.mark.parametrize("mode", ["blackhole", "reset"])
def test_postgres_unreachable_answers_503_within_the_deadline_and_recovers(
    make_app: AppFactory,
    redis_url: str,
    pg_database: TestDatabase,
    pg_proxy: tuple[FaultProxy, str],
    mode: Any,
) -> None:
    proxy, url = pg_proxy
    client = make_app(database_url=url, redis_url=redis_url).test_client()
    warm = client.post(URL, json=golden_request("patient-view"))
    assert warm.status_code == 200

    proxy.set(mode)
    response, elapsed = timed_post(client, golden_request("patient-view"))
    assert_failed_closed(response, elapsed)
    if mode == "reset":
        assert elapsed < 0.5, "a refused connection fails at once"

    proxy.set("pass")
    back = answered_again(client)[-1]
    # only the calls answered 200 were recorded: nothing was while the database was unreachable
    rows = pg_database.rows("audit_event")
    assert [row["request_id"] for row in rows] == [warm.headers["X-Request-ID"], back.headers["X-Request-ID"]]
    assert pg_database.count("decision") == 2


def test_postgres_audit_table_locked_answers_503_and_commits_nothing(
    make_app: AppFactory, redis_url: str, pg_database: TestDatabase
) -> None:
    client = make_app(database_url=pg_database.url, redis_url=redis_url).test_client()
    body = golden_request("patient-view")
    with postgres_lock(pg_database, "audit_event"):
        response, elapsed = timed_post(client, body)
    assert_failed_closed(response, elapsed)
    assert elapsed >= 0.9, "it waited for the statement timeout (1 s)"
    # the decision was in the same transaction as the refused audit row: neither exists
    assert pg_database.count("audit_event") == 0
    assert pg_database.count("decision") == 0

    retried = client.post(URL, json=body)
    assert retried.status_code == 200
    assert pg_database.count("decision") == 1
    (row,) = pg_database.rows("audit_event")
    assert row["replayed"] is False


def test_postgres_decision_table_locked_the_503_itself_is_audited(
    make_app: AppFactory, redis_url: str, pg_database: TestDatabase
) -> None:
    client = make_app(database_url=pg_database.url, redis_url=redis_url).test_client()
    with postgres_lock(pg_database, "decision"):
        response, elapsed = timed_post(client, golden_request("patient-view"))
    assert_failed_closed(response, elapsed)
    (row,) = pg_database.rows("audit_event")
    assert (row["status"], row["outcome"], row["error_code"]) == (503, 8, "audit-unavailable")
    assert row["request_id"] == response.headers["X-Request-ID"]
    assert row["card_uuids"] == []


def test_sqlite_locked_answers_503_within_the_deadline(
    make_app: AppFactory, redis_url: str, sqlite_database: TestDatabase
) -> None:
    client = make_app(database_url=sqlite_database.url, redis_url=redis_url).test_client()
    body = golden_request("patient-view")
    path = sqlite_database.engine.url.database
    assert path is not None
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        response, elapsed = timed_post(client, body)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert_failed_closed(response, elapsed)
    assert sqlite_database.count("audit_event") == 0
    assert sqlite_database.count("decision") == 0
    assert client.post(URL, json=body).status_code == 200
    assert sqlite_database.count("audit_event") == 1


def test_feedback_while_the_database_is_locked_is_503_and_can_be_sent_again(
    make_app: AppFactory, redis_url: str, sqlite_database: TestDatabase
) -> None:
    client = make_app(database_url=sqlite_database.url, redis_url=redis_url).test_client()
    card = client.post(URL, json=golden_request("patient-view")).json["cards"][0]
    feedback = {
        "feedback": [
            {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
        ]
    }
    path = sqlite_database.engine.url.database
    assert path is not None
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        refused = client.post(f"{URL}/feedback", json=feedback)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert_operation_outcome(refused, 503, "database-unavailable")
    assert "Retry-After" in refused.headers
    assert client.post(f"{URL}/feedback", json=feedback).status_code == 200
    assert sqlite_database.count("feedback") == 1


def test_no_free_connection_within_the_pool_timeout_is_503(
    make_app: AppFactory, redis_url: str, database: TestDatabase
) -> None:
    app = make_app(
        database_url=database.url,
        redis_url=redis_url,
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_s=0.3,
    )
    client = app.test_client()
    assert client.post(URL, json=golden_request("patient-view")).status_code == 200
    with ExitStack() as held:
        for engine in get_state(app).database.engines:  # each pool's only connection, held elsewhere
            held.enter_context(engine.connect())
        response, elapsed = timed_post(client, golden_request("patient-view"))
    assert_failed_closed(response, elapsed)
    assert elapsed >= 0.3
    assert client.post(URL, json=golden_request("patient-view")).status_code == 200
    assert database.count("audit_event") == 2
