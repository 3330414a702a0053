"""Fixtures for the database tests: one backend at a time, a FaultProxy before PostgreSQL, a live server."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.databases import PostgresCluster
from tests.support.databases import TestDatabase
from tests.support.databases import open_test_database
from tests.support.databases import sqlite_copy
from tests.support.fault_proxy import FaultProxy
from tests.support.live_server import LiveServer


@pytest.fixture
def pg_database(postgres: PostgresCluster) -> Iterator[TestDatabase]:
    postgres.empty_session_database()
    db = open_test_database("postgresql", postgres.url(postgres.session_database))
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def sqlite_database(sqlite_template: Path, tmp_path: Path) -> Iterator[TestDatabase]:
    db = open_test_database("sqlite", sqlite_copy(sqlite_template, tmp_path / "cds.db"))
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def pg_proxy(postgres: PostgresCluster, pg_database: TestDatabase) -> Iterator[tuple[FaultProxy, str]]:
    """A FaultProxy in front of the test PostgreSQL server, and the test database's URL through it."""
    admin = postgres.admin_url
    proxy = FaultProxy(admin.host or "127.0.0.1", admin.port or 5432)
    try:
        yield proxy, postgres.url(str(pg_database.engine.url.database), port=proxy.port)
    finally:
        proxy.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Flask], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Flask) -> LiveServer:
        servers.append(LiveServer(app))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
