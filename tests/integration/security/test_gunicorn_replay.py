"""One JWT replayed in parallel against ``cds-server serve --workers 4``: accepted exactly once.

A per-process replay cache would accept it once per worker (four times); both shared stores (Redis,
and the database of the embedded default) must let exactly one through. The server's whole output
and every response are then searched for the token, the access token and the patient id (PHI
canaries of tests/data/hooks/patient-view.json).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.clients import EHR_A
from tests.support.clients import token_for
from tests.support.fhir_server import free_port
from tests.support.live_server import in_parallel
from tests.support.paths import REPO_ROOT
from tests.support.requests import golden_request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARALLEL = 64
ACCESS_TOKEN = "tok-CANARY-access-7F3A"
PATIENT_ID = "1288992"


class Gunicorn:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            sys.executable,
            "-m",
            "cds_server.cli",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            "4",
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    # every worker answers once it has built its app; give the slowest a moment
                    time.sleep(1.0)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("gunicorn did not become ready:\n" + self.log.read_text()[-3000:])

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return self.log.read_text(errors="replace")


@pytest.fixture(params=["redis", "database"])
def server(request: pytest.FixtureRequest, tmp_path: Path, clients_file: Path) -> Iterator[Gunicorn]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("CDS_")}
    env.update(
        CDS_DATABASE_URL=f"sqlite:///{tmp_path / 'cds.db'}",
        CDS_CLIENTS_FILE=str(clients_file),
        CDS_DEV_CLIENT="false",
        CDS_EMBEDDED_WORKER="false",  # no job worker child: this test is about the web workers
        CDS_SERVICE_MODULES="tests.support.services",
        CDS_RATE_LIMIT_PER_S="10000",
        CDS_RATE_LIMIT_BURST="10000",
        PYTHONPATH=str(REPO_ROOT),
    )
    if request.param == "redis":
        env["CDS_REDIS_URL"] = request.getfixturevalue("redis_url")
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    try:
        yield server
    finally:
        server.stop()


def test_one_token_replayed_across_four_workers_is_accepted_once(server: Gunicorn) -> None:
    path = "/cds-services/risk-demo"
    token = token_for(f"{server.url}{path}", EHR_A)
    body = golden_request("patient-view")
    with httpx.Client(base_url=server.url, timeout=30, limits=httpx.Limits(max_connections=PARALLEL)) as http:

        def call(_: int) -> httpx.Response:
            return http.post(path, json=body, headers={"Authorization": f"Bearer {token}"})

        responses = in_parallel(call, range(PARALLEL), threads=32)
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(401) == PARALLEL - 1, statuses
    assert len({r.content for r in responses if r.status_code == 401}) == 1

    output = server.stop()
    assert "POST /cds-services/risk-demo" in output  # the access log was captured
    texts = [output, *(response.text for response in responses)]
    for canary in (token, ACCESS_TOKEN, "CANARY", PATIENT_ID, token.split(".")[2]):
        for text in texts:
            assert canary not in text
