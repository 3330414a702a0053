"""Every accepted job reaches a terminal state while workers and the broker die (real Redis, real
PostgreSQL, real ``cds-server worker`` processes). Each test prints how long the job took to reach its
terminal state after the fault, the figure docs/jobs.md quotes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask

from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.state import get_state
from tests.integration.jobs.conftest import markers
from tests.integration.jobs.conftest import wait_terminal
from tests.support.redis_server import RedisServer
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OWNER = Owner("https://ehr.example.org")


def submit(app: Flask, kind: str, **params: object) -> str:
    return get_state(app).jobs.store.submit(owner=OWNER, kind=kind, params=params, request_id="test").id


def running_attempt(folder: Path, job_id: str, attempt: int) -> tuple[int, int, int]:
    found = wait_for(
        lambda: [m for m in markers(folder, job_id) if m[1] == attempt],
        timeout=30,
        what=f"attempt {attempt} of job {job_id} to start",
    )
    assert isinstance(found, list)
    return found[0]


def test_a_pool_child_killed_mid_job_is_redelivered_and_the_job_finishes(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    worker = start_worker()
    job_id = submit(job_app, "test-sleep", seconds=2.0, markers=str(tmp_path / "marks"))
    _, _, pid = running_attempt(tmp_path / "marks", job_id, 1)
    assert pid in worker.children()
    killed = time.monotonic()
    worker.kill_child(pid)
    view = wait_terminal(job_app, OWNER, job_id, timeout=30)
    elapsed = time.monotonic() - killed
    print(f"\npool child SIGKILL -> {view.status.value} in {elapsed:.1f} s (job needs 2.0 s per attempt)")
    assert view.status is JobStatus.SUCCEEDED
    assert view.attempts == 2
    assert [m[1] for m in markers(tmp_path / "marks", job_id)] == [1, 2]
    assert elapsed < 15


def test_a_whole_worker_killed_mid_job_is_replaced_and_the_job_finishes(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    first = start_worker()
    job_id = submit(job_app, "test-sleep", seconds=2.0, markers=str(tmp_path / "marks"))
    running_attempt(tmp_path / "marks", job_id, 1)
    killed = time.monotonic()
    first.kill()  # main process and pool at once: the unacked message stays with the broker
    start_worker()
    view = wait_terminal(job_app, OWNER, job_id, timeout=60)
    elapsed = time.monotonic() - killed
    print(
        f"\nwhole worker SIGKILL, new worker -> {view.status.value} in {elapsed:.1f} s (incl. worker start)"
    )
    assert view.status is JobStatus.SUCCEEDED
    assert view.attempts == 2
    assert elapsed < 40


def test_a_poison_job_fails_after_max_attempts(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    start_worker()
    started = time.monotonic()
    job_id = submit(job_app, "crash", markers=str(tmp_path / "marks"))
    view = wait_terminal(job_app, OWNER, job_id, timeout=60)
    print(
        f"\npoison job (SIGKILLs its process every attempt) -> FAILED in {time.monotonic() - started:.1f} s"
    )
    assert (view.status, view.error_code) == (JobStatus.FAILED, "too-many-attempts")
    assert view.attempts == view.max_attempts == 3
    assert [m[1] for m in markers(tmp_path / "marks", job_id)] == [1, 2, 3]


def test_a_job_accepted_while_the_broker_is_down_runs_when_it_returns(
    job_app: Flask,
    start_worker: Callable[..., WorkerProcess],
    worker_env: dict[str, str],
    tmp_path: Path,
) -> None:
    broker = RedisServer(tmp_path / "redis")
    env = {"CDS_BROKER_URL": broker.url}
    try:
        start_worker(env=env)
        broker.stop()
        job_id = submit(job_app, "test-sleep", seconds=0.2)  # the web side never needs the broker
        time.sleep(1.5)
        assert get_state(job_app).jobs.store.get(OWNER, job_id).status is JobStatus.QUEUED
        returned = time.monotonic()
        broker.start()
        view = wait_terminal(job_app, OWNER, job_id, timeout=60)
        elapsed = time.monotonic() - returned
        print(f"\nbroker down at submit, back -> {view.status.value} {elapsed:.1f} s after it returned")
        assert view.status is JobStatus.SUCCEEDED
        assert view.attempts == 1
    finally:
        broker.kill()


def test_a_running_job_survives_a_broker_restart(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker = RedisServer(tmp_path / "redis")
    try:
        start_worker(env={"CDS_BROKER_URL": broker.url})
        job_id = submit(job_app, "test-sleep", seconds=2.0, markers=str(tmp_path / "marks"))
        running_attempt(tmp_path / "marks", job_id, 1)
        broker.kill()  # no persistence: every message and unacked entry is gone
        broker.start()
        view = wait_terminal(job_app, OWNER, job_id, timeout=60)
        assert view.status is JobStatus.SUCCEEDED
        assert view.attempts == 1  # the task kept running; its result is in the database, not the broker
    finally:
        broker.kill()


def test_every_accepted_job_ends_terminal_under_worker_kills_and_a_broker_restart(
    job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    broker = RedisServer(tmp_path / "redis")
    env = {"CDS_BROKER_URL": broker.url}
    marks = str(tmp_path / "marks")
    try:
        first = start_worker(env=env)
        second = start_worker(env=env)
        expected: dict[str, set[JobStatus]] = {}
        for index in range(6):
            job_id = submit(job_app, "test-sleep", seconds=0.3 + 0.15 * index, markers=marks)
            expected[job_id] = {JobStatus.SUCCEEDED}
        for _ in range(2):
            expected[submit(job_app, "crash-once", seconds=0.2, markers=marks)] = {JobStatus.SUCCEEDED}
        expected[submit(job_app, "crash", markers=marks)] = {JobStatus.FAILED}
        expected[submit(job_app, "test-fail")] = {JobStatus.FAILED}
        cancelled = submit(job_app, "test-sleep", seconds=1.0)
        get_state(job_app).jobs.store.cancel(OWNER, cancelled)
        expected[cancelled] = {JobStatus.CANCELLED}
        started = time.monotonic()

        time.sleep(1.0)
        for pid in first.children()[:1]:
            first.kill_child(pid)  # a pool child dies mid-job (or between jobs)
        time.sleep(1.0)
        second.kill()  # a whole worker dies
        start_worker(env=env)
        broker.kill()  # the broker dies, losing every message (no persistence) ...
        time.sleep(0.5)
        broker.start()  # ... and comes back empty

        store = get_state(job_app).jobs.store
        views = {job_id: wait_terminal(job_app, OWNER, job_id, timeout=90) for job_id in expected}
        elapsed = time.monotonic() - started
        print(f"\n{len(views)} jobs under faults: all terminal {elapsed:.1f} s after submission")
        for job_id, view in views.items():
            assert view.status in expected[job_id], (view.kind, view.status, view.error_code)
            assert view.attempts <= view.max_attempts
            rows = list(store.rows(job_id))
            assert bool(rows) == (view.status is JobStatus.SUCCEEDED), (view.kind, view.status)
    finally:
        broker.kill()
