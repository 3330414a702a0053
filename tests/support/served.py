"""``cds-server serve`` (gunicorn, several workers) in a subprocess, on a free port, in its own folder.

The server runs with embedded defaults in a temporary working directory: its SQLite database and
development client key land there (``instance/``), as after a fresh clone. Only ``CDS_*`` variables
passed in ``settings`` are set; the developer's own are removed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.fhir_server import free_port
from tests.support.paths import REPO_ROOT


class ServedApp:
    def __init__(self, workdir: Path, settings: dict[str, str], *, workers: int = 2) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "server.log"
        env = {name: value for name, value in os.environ.items() if not name.startswith("CDS_")}
        env.update(settings)
        env["PYTHONPATH"] = str(REPO_ROOT)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # its own temporary folder, so a test can find the run's metrics directory in it
        self.tmpdir = workdir / "tmp"
        self.tmpdir.mkdir(exist_ok=True)
        env["TMPDIR"] = str(self.tmpdir)
        command = [sys.executable, "-m", "cds_server.cli", "serve", "--port", str(self.port)]
        command += ["--workers", str(workers)]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                command, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT
            )
        self._wait_ready()

    @property
    def database_file(self) -> Path:
        """The embedded default's SQLite file (relative to the working directory)."""
        return self.workdir / "instance" / "cds-server.db"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()[-3000:]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    time.sleep(1.0)  # every worker answers once it has built its app
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError("cds-server serve did not become ready:\n" + self.output()[-3000:])

    def stop(self) -> str:
        """Stop gracefully (SIGTERM, as docker stop does); the whole output."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return self.output()
