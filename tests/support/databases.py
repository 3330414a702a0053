"""Real databases for the tests: SQLite files and a throwaway PostgreSQL database.

Migrations run once per session: into a SQLite template file that each test copies (a millisecond),
and into one PostgreSQL database ``cds_test_<hex>`` that is emptied before each test that uses it
(cloning it per test costs ~150 ms, emptying it ~5 ms). PostgreSQL is the server CI and development
machines run on 127.0.0.1:5432 (trust auth, user ``postgres``, database ``test``);
``CDS_TEST_POSTGRES_URL`` points elsewhere. Every database created is dropped at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Literal

import orjson
import psycopg
from sqlalchemy import Engine
from sqlalchemy import MetaData
from sqlalchemy import Table
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cds_server.persistence import migrate
from cds_server.persistence.database import database_url

# read at import: the suite's autouse fixture removes every CDS_* variable before each test
POSTGRES_ADMIN_URL = os.environ.get("CDS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

Kind = Literal["sqlite", "postgresql"]
#: children before parents
EMPTYING_ORDER = (
    "feedback",
    "audit_event",
    "decision_card",
    "decision_model",
    "decision",
    "security_event",
    "jwt_replay",
    "trusted_client",
    "job_result",
    "job_unit",
    "job_outbox",
    "job",
    "server_key",
)


def migrated_sqlite(path: Path) -> Path:
    migrate.upgrade(database_url(f"sqlite:///{path}"))
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


class PostgresCluster:
    """The session's PostgreSQL database, and CREATE/DROP DATABASE for tests that need their own."""

    def __init__(self, admin_url: str = POSTGRES_ADMIN_URL) -> None:
        self.admin_url = database_url(admin_url)
        self.prefix = f"cds_test_{uuid.uuid4().hex[:12]}"
        self.session_database = self.prefix
        self._count = 0
        self._created: list[str] = []

    def _execute(self, sql: str, database: str | None = None) -> None:
        url = self.admin_url if database is None else self.admin_url.set(database=database)
        with psycopg.connect(_conninfo(url), autocommit=True) as connection:
            connection.execute(sql)

    def url(self, name: str, *, port: int | None = None) -> str:
        url = self.admin_url.set(database=name)
        if port is not None:
            url = url.set(host="127.0.0.1", port=port)
        return url.render_as_string(hide_password=False)

    def create_session_database(self) -> str:
        self.create(self.session_database)
        migrate.upgrade(make_url(self.url(self.session_database)))
        return self.session_database

    def empty_session_database(self) -> None:
        # The append-only triggers refuse DELETE, as they should for the application. Test clean-up
        # runs as a superuser in replica mode, which fires no ordinary triggers.
        deletes = "; ".join(f"DELETE FROM {table}" for table in EMPTYING_ORDER)
        self._execute(f"SET session_replication_role = replica; {deletes}", self.session_database)

    def create_empty(self) -> str:
        """A new database without any table (for migration tests)."""
        self._count += 1
        return self.create(f"{self.prefix}_{self._count}")

    def create(self, name: str) -> str:
        self._execute(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return name

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(list(self._created)):
            self.drop(name)


@dataclass
class TestDatabase:
    """A database a test owns, with an engine of its own for looking at the rows."""

    __test__ = False  # not a pytest test class

    kind: Kind
    url: str
    engine: Engine

    def table(self, name: str) -> Table:
        return Table(name, MetaData(), autoload_with=self.engine)

    def rows(self, name: str) -> list[dict[str, Any]]:
        table = self.table(name)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(table).order_by(table.c.id))]

    def count(self, name: str) -> int:
        table = self.table(name)
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(table)).scalar_one())

    def close(self) -> None:
        self.engine.dispose()


def open_test_database(kind: Kind, url: str) -> TestDatabase:
    # plain deferred transactions: looking at rows must not hold SQLite's write lock against the app
    engine = create_engine(database_url(url), poolclass=NullPool, json_deserializer=orjson.loads)
    return TestDatabase(kind, url, engine)


def _conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
