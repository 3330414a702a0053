"""The shared stores: Redis replay and rate limits across processes, and failing closed when down."""

from __future__ import annotations

import uuid

import pytest

from cds_server.auth.ratelimit import Limit
from cds_server.auth.ratelimit import RedisRateLimiter
from cds_server.auth.replay import RedisReplayStore
from cds_server.auth.replay import SqlReplayStore
from cds_server.auth.replay import redis_client
from cds_server.config import load_settings
from cds_server.errors import ReplayStoreUnavailable
from cds_server.persistence.database import open_database
from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.databases import TestDatabase
from tests.support.fhir_server import free_port
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration


def test_redis_replay_store_claims_once(redis_url: str) -> None:
    store = RedisReplayStore(redis_client(redis_url))
    key = uuid.uuid4().hex
    assert store.claim(key, expires_at=2e9, now=1.9e9) is True
    assert store.claim(key, expires_at=2e9, now=1.9e9) is False
    store.close()


def test_database_replay_store_claims_once(database: TestDatabase) -> None:
    db = open_database(load_settings({"database_url": database.url}))
    store = SqlReplayStore(db)
    key = uuid.uuid4().hex
    assert store.claim(key, expires_at=2e9, now=1.9e9) is True
    assert store.claim(key, expires_at=2e9, now=1.9e9) is False
    assert database.count("jwt_replay") == 1
    db.close()


def test_an_unreachable_redis_fails_closed(make_app: AppFactory) -> None:
    with pytest.raises(ReplayStoreUnavailable):
        RedisReplayStore(redis_client(f"redis://127.0.0.1:{free_port()}/0")).claim(
            "k", expires_at=2e9, now=1e9
        )
    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    response = client.post("/cds-services/risk-demo", json=golden_request("patient-view"))
    assert_operation_outcome(response, 503, "replay-store-unavailable")
    assert response.headers["Retry-After"]


def test_redis_rate_limits_are_shared_by_all_workers(make_app: AppFactory, redis_url: str) -> None:
    limiter = RedisRateLimiter(redis_client(redis_url))
    key, limit = uuid.uuid4().hex, Limit(per_s=0.5, burst=2)
    assert [limiter.acquire(key, limit) == 0 for _ in range(3)] == [True, True, False]

    # two apps stand for two workers: the bucket is one
    settings = {"redis_url": redis_url, "rate_limit_per_s": 0.01, "rate_limit_burst": 2}
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    headers = {"X-Test-Sign-Tenant": uuid.uuid4().hex}  # a fresh bucket for this test run
    answers = [client.get("/cds-services", headers=headers).status_code for client in (first, second, first)]
    assert answers == [200, 200, 429]
