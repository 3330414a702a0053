"""The ``jti`` replay store: one claim per token, shared by every worker, failing closed.

A per-process set is not a replay cache: with four gunicorn workers one JWT would be accepted four
times. Both stores here are shared and atomic:

* :class:`RedisReplayStore` (``CDS_REDIS_URL``): ``SET cds:jti:<sha256(iss|jti)> 1 NX EX <ttl>``.
* :class:`SqlReplayStore` (the embedded default, or PostgreSQL): an insert into ``jwt_replay``, whose
  primary key lets exactly one insert of a key through; expired rows are purged now and then.

A store that cannot answer raises :class:`~cds_server.errors.ReplayStoreUnavailable` (503): a replay
that cannot be ruled out is never let through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from typing import Protocol

import redis
from sqlalchemy import delete

from cds_server.errors import DatabaseUnavailable
from cds_server.errors import ReplayStoreUnavailable
from cds_server.persistence.database import Database
from cds_server.persistence.database import insert_or_ignore
from cds_server.persistence.models import JwtReplay

log = logging.getLogger("cds_server.security")

#: how often one process clears expired rows from ``jwt_replay``, in seconds
PURGE_INTERVAL_S = 300.0
REDIS_TIMEOUT_S = 0.25


class ReplayStore(Protocol):
    def claim(self, key: str, *, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at`` (epoch seconds).

        :return: ``True`` the first time a key is claimed, ``False`` for a replay.
        :raise ReplayStoreUnavailable: the store could not be asked.
        """
        ...

    def close(self) -> None: ...


def redis_client(url: str) -> redis.Redis:
    """A client with short timeouts: a slow Redis must turn into a quick 503, not a stuck worker."""
    return redis.Redis.from_url(
        url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        health_check_interval=30,
    )


class RedisReplayStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "cds:jti:") -> None:
        self._redis = client
        self._prefix = prefix

    def claim(self, key: str, *, expires_at: float, now: float) -> bool:
        ttl = max(1, int(expires_at - now) + 1)
        try:
            return bool(self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl))
        except redis.RedisError:
            log.warning("jti replay store (redis) unavailable")
            raise ReplayStoreUnavailable() from None

    def close(self) -> None:
        self._redis.close()


class SqlReplayStore:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._db = database
        self._clock = clock
        self._next_purge = 0.0
        self._lock = threading.Lock()

    def claim(self, key: str, *, expires_at: float, now: float) -> bool:
        self._maybe_purge(now)
        try:
            with self._db.write() as session:
                inserted = session.execute(
                    insert_or_ignore(session, JwtReplay, ("token_key",))
                    .values(token_key=key, expires_at=_instant(expires_at))
                    .returning(JwtReplay.token_key)
                ).scalar_one_or_none()
        except DatabaseUnavailable:
            log.warning("jti replay store (database) unavailable")
            raise ReplayStoreUnavailable() from None
        return inserted is not None

    def _maybe_purge(self, now: float) -> None:
        # Rows outlive their token by design (the verifier rejects expired tokens first); clearing
        # them keeps the table small. Best effort: a failed purge is retried at the next interval.
        with self._lock:
            if self._clock() < self._next_purge:
                return
            self._next_purge = self._clock() + PURGE_INTERVAL_S
        try:
            with self._db.write() as session:
                session.execute(delete(JwtReplay).where(JwtReplay.expires_at < _instant(now)))
        except DatabaseUnavailable:
            log.warning("jti replay store: expired rows not purged this time")

    def close(self) -> None:
        """The database belongs to the app state, which closes it."""


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
