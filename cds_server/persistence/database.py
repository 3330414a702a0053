"""Engines and sessions for PostgreSQL (production, CI) and SQLite (the embedded default).

Two flavours of engine:

* the **request path** (:func:`open_database`): a small pool, ``pool_pre_ping``, a short pool wait,
  ``connect_timeout``, ``statement_timeout`` and TCP keepalives on PostgreSQL (reliability-security
  §3.3); WAL, ``synchronous=FULL`` and a busy timeout on SQLite. Every failure surfaces as one
  :class:`~cds_server.errors.DatabaseUnavailable` (or the subclass the caller names), so a call
  answers 503 with ``Retry-After``, never 500.
* **maintenance** (:func:`maintenance_engine`): migrations and purges, no statement timeout; SQLite
  transactions there are ``BEGIN EXCLUSIVE`` so a migration is atomic and two processes starting at
  once run it one after the other.

SQLAlchemy is created with ``hide_parameters=True``: its error messages would otherwise quote bound
values (patient references, comments) into logs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from contextlib import nullcontext
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy import Insert
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import URL
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from cds_server.config import ConfigError
from cds_server.config import Settings
from cds_server.errors import DatabaseUnavailable
from cds_server.persistence.guard import ConnectGuard
from cds_server.persistence.guard import DatabaseUnreachable

log = logging.getLogger("cds_server.persistence")

POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_ALIASES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}
#: What a 503 from the database asks the client to wait, in seconds (the guard's cooldown, rounded up).
RETRY_AFTER_S = 2
#: Migrations and purges may wait this long for a lock before giving up, in milliseconds.
MAINTENANCE_LOCK_TIMEOUT_MS = 30_000


def database_url(raw: str) -> URL:
    """The URL to connect to: PostgreSQL through psycopg 3, or a SQLite file with an absolute path.

    ``postgres://`` and ``postgresql://`` mean psycopg 3 (psycopg2 is not installed). A relative SQLite
    path is resolved against the working directory now, so the file does not move if it changes later.

    :raise ConfigError: not a PostgreSQL or SQLite file URL (the message never repeats the URL: it
        may carry a password).
    """
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError("CDS_DATABASE_URL is not a database URL") from None
    if url.drivername in _POSTGRES_ALIASES:
        return url.set(drivername=POSTGRES_DRIVER)
    if url.drivername in {"sqlite", "sqlite+pysqlite"}:
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError("CDS_DATABASE_URL must name a SQLite file; in-memory databases are not shared")
        return url.set(drivername="sqlite", database=str(Path(url.database).expanduser().resolve()))
    raise ConfigError("CDS_DATABASE_URL must be a postgresql:// or sqlite:/// URL")


def redacted(url: URL) -> str:
    """The URL as it may be printed: without its password."""
    return url.render_as_string(hide_password=True)


def to_json(value: Any) -> str:
    """JSON for a JSON column; dataclasses, datetimes, enums and numpy values are handled by orjson."""
    return orjson.dumps(
        value, default=_json_fallback, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
    ).decode()


def canonical_json(value: Any) -> bytes:
    """The same bytes for the same JSON value, whatever the key order: what a hash is taken of."""
    return orjson.dumps(
        value,
        default=_json_fallback,
        option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS,
    )


def insert_or_ignore(session: Session, model: type[Any], index_elements: Sequence[str]) -> Insert:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` in the session's dialect."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=list(index_elements))


def _json_fallback(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} cannot be stored as JSON")


class Database:
    """One engine and the two ways the server uses it: short reads and short write transactions."""

    def __init__(
        self,
        engine: Engine,
        *,
        lock_timeout_s: float,
        guard: ConnectGuard | None = None,
        autocommit_engine: Engine | None = None,
    ) -> None:
        self.engine = engine
        # A pool of its own for autocommit work: switching a pooled connection's isolation level in
        # and out costs round trips on every checkout (9 instead of 3 for one SELECT, measured).
        self._autocommit_engine = autocommit_engine
        self.guard = guard
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock_timeout_s = lock_timeout_s
        # SQLite has one writer at a time. Threads of this process queue on a lock (bounded by the
        # same timeout) instead of polling SQLite's busy handler, which starves unlucky writers.
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine (and so every connection pool) this database uses."""
        return (self.engine,) if self._autocommit_engine is None else (self.engine, self._autocommit_engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> URL:
        return self.engine.url

    def ping(self) -> dict[str, object]:
        """Whether a trivial query answers, for readiness: ``{"ok": bool, "reason"?: str}``."""
        try:
            with self.read() as session:
                session.execute(text("SELECT 1"))
        except DatabaseUnavailable as error:
            return {"ok": False, "reason": error.message}
        return {"ok": True, "dialect": self.dialect}

    @contextmanager
    def read(self, failure: type[DatabaseUnavailable] = DatabaseUnavailable) -> Iterator[Session]:
        """A session for reads; any database failure inside becomes ``failure`` (503)."""
        with _translated(failure, "read"), self._sessions() as session:
            yield session

    @contextmanager
    def write(self, failure: type[DatabaseUnavailable] = DatabaseUnavailable) -> Iterator[Session]:
        """A transaction committed when the block ends; any database failure becomes ``failure`` (503).

        When this returns, the commit has happened; when it raises, nothing was written.
        """
        with (
            _translated(failure, "write"),
            self._writer(failure),
            self._sessions() as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def autocommit(
        self, failure: type[DatabaseUnavailable] = DatabaseUnavailable, *, writes: bool = True
    ) -> Iterator[Connection]:
        """A connection whose every statement commits on its own (one round trip per statement).

        For single statements that are a whole transaction by themselves; when a statement returns,
        it is committed; when it raises, nothing of it was written. ``writes=False`` for a lone read,
        which need not wait for SQLite's one writer.
        """
        with (
            _translated(failure, "write" if writes else "read"),
            self._writer(failure) if writes else nullcontext(),
            self._autocommit_connection() as connection,
        ):
            yield connection

    def _autocommit_connection(self) -> Connection:
        if self._autocommit_engine is not None:
            return self._autocommit_engine.connect()
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _writer(self, failure: type[DatabaseUnavailable]) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=self._lock_timeout_s):
            log.warning("database write: no turn to write within %.3f s", self._lock_timeout_s)
            raise failure(retry_after=RETRY_AFTER_S)
        try:
            yield
        finally:
            self._write_lock.release()

    def close(self) -> None:
        self.engine.dispose()
        if self._autocommit_engine is not None:
            self._autocommit_engine.dispose()


@contextmanager
def _translated(failure: type[DatabaseUnavailable], operation: str) -> Iterator[None]:
    try:
        yield
    except (SQLAlchemyError, DatabaseUnreachable) as error:
        # type and SQLSTATE only: driver messages can quote values from the statement
        original = getattr(error, "orig", None)
        sqlstate = getattr(original, "sqlstate", None)
        log.warning(
            "database %s failed: %s%s",
            operation,
            type(original or error).__name__,
            f" (SQLSTATE {sqlstate})" if sqlstate else "",
        )
        raise failure(retry_after=RETRY_AFTER_S) from None


def open_database(settings: Settings) -> Database:
    """The request-path database of a server process (nothing is connected until first use)."""
    url = database_url(settings.database_url)
    guard = ConnectGuard(cooldown_s=1.0)
    statement_timeout_ms = settings.db_statement_timeout_ms
    common: dict[str, Any] = {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout_s,
        "pool_pre_ping": True,
        "pool_recycle": 1800,
        "hide_parameters": True,
        "json_serializer": to_json,
        "json_deserializer": orjson.loads,
    }
    if url.get_backend_name() == "postgresql":
        connect_args = _postgres_connect_args(
            settings.db_connect_timeout_s,
            f"-c statement_timeout={statement_timeout_ms}"
            f" -c idle_in_transaction_session_timeout={10 * statement_timeout_ms}",
        )
        engine = create_engine(url, connect_args=connect_args, **common)
        autocommit = create_engine(url, connect_args=connect_args, isolation_level="AUTOCOMMIT", **common)
        for each in (engine, autocommit):
            _guard_connects(each, guard)
        return Database(
            engine, lock_timeout_s=statement_timeout_ms / 1000, guard=guard, autocommit_engine=autocommit
        )
    _ensure_folder(url)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **common)
    _configure_sqlite(engine, busy_timeout_ms=statement_timeout_ms, exclusive=False)
    _guard_connects(engine, guard)
    return Database(engine, lock_timeout_s=statement_timeout_ms / 1000, guard=guard)


def maintenance_engine(raw_url: str | URL) -> Engine:
    """An engine for migrations and purges: no statement timeout, exclusive SQLite transactions."""
    url = raw_url if isinstance(raw_url, URL) else database_url(raw_url)
    common: dict[str, Any] = {
        "poolclass": NullPool,
        "hide_parameters": True,
        "json_serializer": to_json,
        "json_deserializer": orjson.loads,
    }
    if url.get_backend_name() == "postgresql":
        return create_engine(
            url,
            connect_args=_postgres_connect_args(10, f"-c lock_timeout={MAINTENANCE_LOCK_TIMEOUT_MS}"),
            **common,
        )
    _ensure_folder(url)
    engine = create_engine(url, **common)
    _configure_sqlite(engine, busy_timeout_ms=MAINTENANCE_LOCK_TIMEOUT_MS, exclusive=True)
    return engine


def _postgres_connect_args(connect_timeout_s: int, options: str) -> dict[str, Any]:
    return {
        "connect_timeout": connect_timeout_s,
        "options": options,
        "application_name": "cds-server",
        # a peer that vanished without a FIN/RST is noticed instead of hanging a thread
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 2,
        "keepalives_count": 3,
        "tcp_user_timeout": 5000,
    }


def _ensure_folder(url: URL) -> None:
    assert url.database is not None
    Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int, exclusive: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if exclusive:
            # pysqlite would run DDL outside any transaction; take transaction control ourselves
            dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed audit row survives power loss, not only a process crash
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    if exclusive:

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN EXCLUSIVE")


def _guard_connects(engine: Engine, guard: ConnectGuard) -> None:
    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        guard.check()
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception:
            guard.failed()
            raise
        guard.succeeded()
        return connection
