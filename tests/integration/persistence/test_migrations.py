"""Alembic migrations up and down, on empty and populated databases, PostgreSQL and SQLite; start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from cds_server import create_app
from cds_server.cli import main
from cds_server.config import ConfigError
from cds_server.persistence import migrate
from cds_server.persistence.models import Base
from cds_server.state import get_state
from tests.conftest import TEST_SERVICES
from tests.conftest import AppFactory
from tests.support.databases import PostgresCluster
from tests.support.databases import TestDatabase
from tests.support.databases import open_test_database
from tests.support.fhir_server import free_port
from tests.support.requests import golden_request

pytestmark = pytest.mark.integration

APP_TABLES = {"audit_event", "decision", "decision_card", "decision_model", "feedback"}
#: diagnostic jobs (0003_jobs)
JOB_TABLES = {"job", "job_unit", "job_outbox", "job_result", "server_key"}
#: client authentication (0002_security)
SECURITY_TABLES = {"jwt_replay", "trusted_client", "security_event"}
ALL_TABLES = APP_TABLES | SECURITY_TABLES | JOB_TABLES


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database with no table at all."""
    if request.param == "sqlite":
        db = open_test_database("sqlite", f"sqlite:///{tmp_path / 'empty.db'}")
        yield db
        db.close()
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    name = cluster.create_empty()
    db = open_test_database("postgresql", cluster.url(name))
    try:
        yield db
    finally:
        db.close()
        cluster.drop(name)


def tables(database: TestDatabase) -> set[str]:
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def revision(database: TestDatabase) -> str | None:
    return migrate.revision_of(make_url(database.url))


def populate(make_app: AppFactory, database: TestDatabase) -> None:
    app = make_app(database_url=database.url)
    client = app.test_client()
    body = golden_request("patient-view")
    card = client.post("/cds-services/risk-demo", json=body).json["cards"][0]
    assert client.post("/cds-services/risk-demo", json=body).status_code == 200
    item = {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}
    assert client.post("/cds-services/risk-demo/feedback", json={"feedback": [item]}).status_code == 200
    get_state(app).close()
    assert {name: database.count(name) > 0 for name in APP_TABLES} == dict.fromkeys(APP_TABLES, True)


def test_up_down_up_on_an_empty_database(empty_database: TestDatabase) -> None:
    url = make_url(empty_database.url)
    assert revision(empty_database) is None
    migrate.upgrade(url)
    assert revision(empty_database) == migrate.head_revision()
    assert tables(empty_database) == ALL_TABLES
    migrate.downgrade(url, "base")
    assert revision(empty_database) is None
    assert tables(empty_database) == set()
    migrate.upgrade(url)
    assert tables(empty_database) == ALL_TABLES


def test_down_and_up_again_on_a_populated_database(
    make_app: AppFactory, empty_database: TestDatabase
) -> None:
    url = make_url(empty_database.url)
    migrate.upgrade(url)
    populate(make_app, empty_database)
    migrate.downgrade(url, "base")  # dropping a table fires no DELETE trigger
    assert tables(empty_database) == set()
    migrate.upgrade(url)
    assert tables(empty_database) == ALL_TABLES
    populate(make_app, empty_database)


def test_the_models_and_the_migrations_agree(database: TestDatabase) -> None:
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_processes_upgrading_at_once_run_the_migration_once(empty_database: TestDatabase) -> None:
    # what gunicorn workers (or replicas) starting together do; each process is a real `cds-server db upgrade`
    env = {**os.environ, "CDS_DATABASE_URL": empty_database.url}
    command = [sys.executable, "-c", "from cds_server.cli import main; main()", "db", "upgrade"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0].decode() for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], outputs
    assert revision(empty_database) == migrate.head_revision()
    assert tables(empty_database) == ALL_TABLES


def test_db_commands(empty_database: TestDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDS_DATABASE_URL", empty_database.url)
    runner = CliRunner()
    head = migrate.head_revision()

    shown = runner.invoke(main, ["db", "current"])
    assert shown.exit_code == 0, shown.output
    assert f"empty (this server needs {head}" in shown.output

    upgraded = runner.invoke(main, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.strip().endswith(f"is at {head}")
    assert "up to date" in runner.invoke(main, ["db", "current"]).output

    purged = runner.invoke(main, ["db", "purge", "--dry-run"])
    assert purged.exit_code == 0, purged.output
    assert purged.output.startswith("would clear the inputs of 0 decisions")

    refused = runner.invoke(main, ["db", "downgrade", "base"], input="n\n")
    assert refused.exit_code == 1
    assert revision(empty_database) == head

    downgraded = runner.invoke(main, ["db", "downgrade", "base", "--yes"])
    assert downgraded.exit_code == 0, downgraded.output
    assert revision(empty_database) is None


def test_printed_urls_carry_no_password(monkeypatch: pytest.MonkeyPatch, postgres: PostgresCluster) -> None:
    url = make_url(postgres.url(postgres.session_database)).set(password="pw-CANARY-91532")
    monkeypatch.setenv("CDS_DATABASE_URL", url.render_as_string(hide_password=False))
    shown = CliRunner().invoke(main, ["db", "current"])
    assert shown.exit_code == 0, shown.output  # trust auth ignores the password
    assert "pw-CANARY-91532" not in shown.output


def test_create_app_creates_and_upgrades_the_embedded_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CDS_DATABASE_URL")
    app = create_app({"service_modules": [TEST_SERVICES]})
    try:
        database = tmp_path / "instance" / "cds-server.db"
        assert database.is_file()
        assert migrate.revision_of(make_url(f"sqlite:///{database}")) == migrate.head_revision()
        response = app.test_client().post("/cds-services/risk-demo", json=golden_request("patient-view"))
        assert response.status_code == 200
    finally:
        get_state(app).close()


def test_without_auto_upgrade_an_old_schema_stops_the_server(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cds-server db upgrade"):
        create_app({"database_url": f"sqlite:///{tmp_path / 'old.db'}", "db_auto_upgrade": False})


def test_an_unreachable_database_at_start_up_does_not_stop_the_server(
    make_app: AppFactory, redis_url: str
) -> None:
    app = make_app(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing", redis_url=redis_url)
    response = app.test_client().post("/cds-services/risk-demo", json=golden_request("patient-view"))
    assert response.status_code == 503
    assert response.json["issue"][0]["details"]["coding"][0]["code"] == "audit-unavailable"
    assert app.test_client().get("/cds-services").status_code == 200


def test_with_the_replay_store_in_the_unreachable_database_authenticated_calls_are_503(
    make_app: AppFactory,
) -> None:
    """Fail closed: a JWT whose replay cannot be ruled out is not accepted, not even for discovery."""
    app = make_app(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    client = app.test_client()
    for response in (
        client.post("/cds-services/risk-demo", json=golden_request("patient-view")),
        client.get("/cds-services"),
    ):
        assert response.status_code == 503
        assert response.json["issue"][0]["details"]["coding"][0]["code"] == "replay-store-unavailable"
        assert "Retry-After" in response.headers
    assert app.test_client(sign=False).get("/healthz").status_code == 200
