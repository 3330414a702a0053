"""The embedded default: ``cds-server serve`` alone (no broker, no worker to start) runs jobs — its
worker is a child process on kombu's SQLAlchemy transport over a SQLite file — and that worker dies
with the server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import JwtAuth
from tests.support.fhir_server import free_port
from tests.support.paths import REPO_ROOT
from tests.support.workers import FAST_JOBS
from tests.support.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def process_children(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError):
                continue
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    return status != "Z"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, **FAST_JOBS, "CDS_DATABASE_URL": f"sqlite:///{tmp_path / 'cds.db'}"}
    env.pop("CDS_BROKER_URL", None)
    # a SIGKILLed server cannot remove its metrics directory: keep it in this test's folder
    env["TMPDIR"] = str(tmp_path)
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cds_server.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--threads",
            "2",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        log.close()


def test_serve_runs_jobs_with_its_own_worker_that_dies_with_it(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, url = server

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, timeout=60, what="cds-server serve to answer")
    with httpx.Client(base_url=url, auth=JwtAuth(url), timeout=10) as client:
        response = client.post("/jobs", json={"kind": "test-sleep", "params": {"seconds": 0.2}})
        assert response.status_code == 202, response.text
        job_url = f"/jobs/{response.json()['id']}"
        done = wait_for(
            lambda: (body := client.get(job_url).json())["status"] == "SUCCEEDED" and body,
            timeout=60,
            what="the job to succeed on the embedded worker",
            every=0.2,
        )
        assert isinstance(done, dict)
        assert done["attempts"] == 1
    assert (tmp_path / "cds-broker.db").exists()  # the embedded broker's own SQLite file

    workers = [pid for pid, cmd in process_children(process.pid).items() if " worker " in f"{cmd} "]
    assert len(workers) == 1, process_children(process.pid)
    (worker,) = workers
    os.kill(process.pid, signal.SIGKILL)  # the server dies without cleaning up ...
    wait_for(
        lambda: not alive(worker), timeout=30, what="its worker to die with it"
    )  # ... and so does the worker
