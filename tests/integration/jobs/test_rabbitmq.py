"""RabbitMQ works by configuration alone: the same worker and job over ``amqp://`` (publisher confirms,
late acks), and a pool child killed mid-job is redelivered at once (RabbitMQ requeues on the reject)."""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from kombu import Connection

from cds_server.jobs.records import Owner
from cds_server.jobs.states import JobStatus
from cds_server.state import get_state
from tests.integration.jobs.conftest import markers
from tests.integration.jobs.conftest import wait_terminal
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
OWNER = Owner("https://ehr.example.org")


@pytest.fixture
def rabbit_env(worker_env: dict[str, str]) -> Iterator[dict[str, str]]:
    worker_env["CDS_BROKER_URL"] = RABBITMQ
    yield worker_env
    with Connection(RABBITMQ, connect_timeout=5) as connection:
        channel = connection.channel()
        channel.queue_delete(worker_env["CDS_JOB_QUEUE"])
        channel.exchange_delete(worker_env["CDS_JOB_QUEUE"])


def test_jobs_run_over_rabbitmq_and_survive_a_killed_pool_child(
    rabbit_env: dict[str, str], job_app: Flask, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    worker = start_worker()
    store = get_state(job_app).jobs.store
    quick = store.submit(owner=OWNER, kind="test-sleep", params={"seconds": 0.1}, request_id="r").id
    assert wait_terminal(job_app, OWNER, quick, timeout=30).status is JobStatus.SUCCEEDED

    marks = tmp_path / "marks"
    job_id = store.submit(
        owner=OWNER, kind="test-sleep", params={"seconds": 2.0, "markers": str(marks)}, request_id="r"
    ).id
    wait_for(lambda: markers(marks, job_id), timeout=30, what="the job to start")
    ((_, _, pid),) = markers(marks, job_id)
    killed = time.monotonic()
    worker.kill_child(pid)
    view = wait_terminal(job_app, OWNER, job_id, timeout=30)
    print(f"\nRabbitMQ: pool child SIGKILL -> {view.status.value} in {time.monotonic() - killed:.1f} s")
    assert view.status is JobStatus.SUCCEEDED
    assert view.attempts == 2
