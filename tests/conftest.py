"""Fixtures shared by the whole suite: the real app, its test client, a real FHIR server, databases.

Every app gets a database of its own: a copy of a SQLite file migrated once per session, unless the
test passes ``database_url`` (for example the ``database`` fixture's, which runs the test on SQLite
and on PostgreSQL).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from cds_server import create_app
from cds_server.state import get_state
from tests.support.clients import SigningClient
from tests.support.clients import write_clients_file
from tests.support.databases import Kind
from tests.support.databases import PostgresCluster
from tests.support.databases import TestDatabase
from tests.support.databases import migrated_sqlite
from tests.support.databases import open_test_database
from tests.support.databases import sqlite_copy
from tests.support.fhir_server import FhirTestServer
from tests.support.synthea import bundle_files

TEST_SERVICES = "tests.support.services"
# read at import: the autouse fixture below removes every CDS_* variable before each test
TEST_REDIS_URL = os.environ.get("CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

AppFactory = Callable[..., Flask]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, once per session; apps get copies of it."""
    return migrated_sqlite(tmp_path_factory.mktemp("sqlite") / "template.db")


@pytest.fixture(scope="session")
def shared_sqlite_url(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database of apps built without ``make_app`` (``create_app({})``): never ./instance."""
    return sqlite_copy(sqlite_template, tmp_path_factory.mktemp("shared") / "shared.db")


@pytest.fixture(scope="session")
def clients_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trusted test EHR clients (tests/support/clients.py), written once per session."""
    return write_clients_file(tmp_path_factory.mktemp("clients") / "clients.yaml")


@pytest.fixture(scope="session")
def dev_client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the development client's key pair goes: never ./instance."""
    return tmp_path_factory.mktemp("dev-client")


@pytest.fixture(autouse=True)
def _no_cds_environment(
    monkeypatch: pytest.MonkeyPatch, shared_sqlite_url: str, clients_file: Path, dev_client_dir: Path
) -> None:
    """A developer's own CDS_* variables must not change what the tests see.

    Every app trusts the test clients, and every Flask test client signs its calls as one of them
    (a real JWT per call, for its exact URL): the API tests run through real authentication. Rate
    limits are raised so that load-style tests measure what they mean to; tests/api/test_rate_limits.py
    checks the limits themselves.
    """
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CDS_DATABASE_URL", shared_sqlite_url)
    monkeypatch.setenv("CDS_CLIENTS_FILE", str(clients_file))
    monkeypatch.setenv("CDS_DEV_CLIENT_DIR", str(dev_client_dir))
    monkeypatch.setenv("CDS_RATE_LIMIT_PER_S", "100000")
    monkeypatch.setenv("CDS_RATE_LIMIT_BURST", "100000")
    monkeypatch.setattr(Flask, "test_client_class", SigningClient)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis of development machines and CI (127.0.0.1:6379, ``CDS_TEST_REDIS_URL`` elsewhere).

    Keys are per token (``cds:jti:<sha256>``) or per client, so tests sharing it cannot collide.
    """
    url = TEST_REDIS_URL
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        client.ping()
    finally:
        client.close()
    return url


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL database ``cds_test_<hex>`` migrated to head, dropped at the end."""
    cluster = PostgresCluster()
    cluster.create_session_database()
    try:
        yield cluster
    finally:
        cluster.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> Iterator[TestDatabase]:
    """An empty, migrated database for this test, on SQLite and on PostgreSQL."""
    kind: Kind = request.param
    if kind == "sqlite":
        url = sqlite_copy(sqlite_template, tmp_path / "cds.db")
    else:
        cluster: PostgresCluster = request.getfixturevalue("postgres")
        cluster.empty_session_database()
        url = cluster.url(cluster.session_database)
    db = open_test_database(kind, url)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def make_app(sqlite_template: Path, tmp_path: Path) -> Iterator[AppFactory]:
    """Build the real app with test services registered; keyword arguments are settings."""
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        config: dict[str, Any] = {"service_modules": [TEST_SERVICES]}
        if "database_url" not in settings:
            config["database_url"] = sqlite_copy(sqlite_template, tmp_path / f"app-{len(built)}.db")
        config.update(settings)
        app = create_app(config)
        app.testing = True
        built.append(app)
        return app

    yield build
    for app in built:
        get_state(app).close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """sekmet-fhir demanding a bearer token, loaded with every Synthea patient of shared/."""
    server = FhirTestServer(tmp_path_factory.mktemp("fhir"), auth="bearer")
    try:
        server.load(bundle_files())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def open_fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """An open sekmet-fhir (no token needed), loaded with two patients."""
    server = FhirTestServer(tmp_path_factory.mktemp("open-fhir"), auth="none")
    try:
        server.load([Path(p) for p in bundle_files() if p.name.startswith(("Dirk_Kuhlman", "Liz_Conn"))])
        yield server
    finally:
        server.stop()
