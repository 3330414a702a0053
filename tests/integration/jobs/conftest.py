"""Fixtures of the job tests: the job tables on SQLite and PostgreSQL, a clock the tests move."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from cds_server.config import load_settings
from cds_server.jobs.claims import JobClaims
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.store import JobStore
from cds_server.persistence import migrate
from cds_server.persistence.database import Database
from cds_server.persistence.database import open_database
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.backends import BackendKey
from tests.support.backends import put_group
from tests.support.backends import smart_fhir_server
from tests.support.backends import write_backends_file
from tests.support.databases import PostgresCluster
from tests.support.databases import TestDatabase
from tests.support.fhir_server import FhirTestServer
from tests.support.redis_server import RedisServer
from tests.support.synthea import bundle_file
from tests.support.synthea import patient_id
from tests.support.workers import FAST_JOBS
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

LEASE_S = 30.0


class FakeClock:
    """Wall-clock time the test moves by hand (leases, expiry), starting now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class JobTables:
    database: Database
    store: JobStore
    claims: JobClaims
    clock: FakeClock
    rows: TestDatabase


def table_rows(database: TestDatabase, name: str) -> list[dict[str, Any]]:
    """Every row of a table (the job tables have composite keys: no ``id`` to order by)."""
    table = database.table(name)
    with database.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(table))]


@pytest.fixture
def tables(database: TestDatabase) -> Iterator[JobTables]:
    clock = FakeClock()
    db = open_database(load_settings({"database_url": database.url, "db_statement_timeout_ms": 5000}))
    try:
        yield JobTables(
            database=db,
            store=JobStore(db, max_attempts=3, clock=clock),
            claims=JobClaims(db, lease_s=LEASE_S, clock=clock),
            clock=clock,
            rows=database,
        )
    finally:
        db.close()


# --- real workers over a real broker ----------------------------------------------------------------


@pytest.fixture
def job_database(postgres: PostgresCluster) -> Iterator[str]:
    """A PostgreSQL database of this test's own (its workers are other processes), migrated to head."""
    name = postgres.create_empty()
    url = postgres.url(name)
    migrate.upgrade(make_url(url))
    try:
        yield url
    finally:
        postgres.drop(name)


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for the tests of one module (never the shared one on 6379)."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def worker_env(job_database: str, module_redis: RedisServer) -> dict[str, str]:
    """Settings shared by the test's app and its workers: same database, broker and queue."""
    return {
        **FAST_JOBS,
        "CDS_DATABASE_URL": job_database,
        "CDS_BROKER_URL": module_redis.url,
        "CDS_JOB_QUEUE": f"cds-test-{uuid.uuid4().hex[:10]}",
    }


@pytest.fixture
def start_worker(worker_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(
        *, concurrency: int = 1, env: dict[str, str] | None = None, ready: bool = True, loglevel: str = "INFO"
    ) -> WorkerProcess:
        worker = WorkerProcess(
            {**worker_env, **(env or {})},
            tmp_path / f"worker-{len(started)}.log",
            concurrency=concurrency,
            loglevel=loglevel,
        )
        started.append(worker)
        return worker.wait_ready() if ready else worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def job_app(make_app: AppFactory, worker_env: dict[str, str]) -> Flask:
    """The web app of the test, on the workers' database and broker."""
    settings = {name.removeprefix("CDS_").lower(): value for name, value in worker_env.items()}
    return make_app(**settings)


def wait_terminal(app: Flask, owner: Owner, job_id: str, *, timeout: float) -> JobView:
    store = get_state(app).jobs.store
    view = wait_for(
        lambda: (v := store.get(owner, job_id)).terminal and v, timeout=timeout, what=f"job {job_id}"
    )
    assert isinstance(view, JobView)
    return view


def markers(folder: Path, job_id: str) -> list[tuple[int, int, int]]:
    """(unit, attempt, pid) of every attempt the test jobs recorded."""
    found = []
    for path in folder.glob(f"{job_id}.*"):
        _, unit, attempt, pid = path.name.rsplit(".", 3)
        found.append((int(unit), int(attempt), int(pid)))
    return sorted(found)


# --- a backend FHIR server with SMART Backend Services ---------------------------------------------------

#: Synthea patients on the backend server: adults with lipids and blood pressures, and two too young
POPULATION = (
    "Dirk_Kuhlman",
    "Emery_Purdy",
    "Morris_Lockman",
    "Renato_Dare",
    "Patria_Schimmel",
    "Louis_Maggio",
    "Fabian_Murray",
    "Liz_Conn",
)
GROUP_ID = "cohort-1"


@dataclass
class SmartBackend:
    server: FhirTestServer
    key: BackendKey
    patient_ids: list[str]


@pytest.fixture(scope="session")
def smart_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmartBackend]:
    folder = tmp_path_factory.mktemp("smart-fhir")
    key = BackendKey(folder)
    server = smart_fhir_server(folder, key, [bundle_file(name) for name in POPULATION])
    ids = [patient_id(name) for name in POPULATION]
    put_group(server, GROUP_ID, ids)
    try:
        yield SmartBackend(server, key, ids)
    finally:
        server.stop()


@pytest.fixture
def backend_env(worker_env: dict[str, str], smart_backend: SmartBackend, tmp_path: Path) -> dict[str, str]:
    """``worker_env`` plus the backends file naming the SMART server (and small chunks, to fan out)."""
    path = write_backends_file(tmp_path / "backends.yaml", smart_backend.server, smart_backend.key)
    worker_env.update(
        {
            "CDS_FHIR_BACKENDS_FILE": str(path),
            "CDS_JOB_CHUNK_SIZE": "3",
            "CDS_FHIR_SERVERS": smart_backend.server.base_url,
            "CDS_FHIR_ALLOW_HTTP": "true",
            "CDS_FHIR_ALLOW_PRIVATE": "true",
        }
    )
    return worker_env


@pytest.fixture
def backend_app(make_app: AppFactory, backend_env: dict[str, str]) -> Flask:
    settings = {name.removeprefix("CDS_").lower(): value for name, value in backend_env.items()}
    return make_app(**settings)
