"""The embedded worker of ``cds-server serve``: one ``cds-server worker`` child process, restarted if it
dies, stopped when the server stops (and killed by the kernel if the server is killed)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from cds_server.tasks.worker import set_parent_death_signal
from cds_server.telemetry.multiprocess import MULTIPROC_ENV

log = logging.getLogger(__name__)

#: seconds between restarts of a worker that keeps dying
RESTART_DELAY_S = 2.0


class EmbeddedWorker:
    def __init__(self, *, concurrency: int) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "cds_server.cli",
            "worker",
            "--concurrency",
            str(concurrency),
            "--parent-pid",
            str(os.getpid()),
        ]
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, daemon=True, name="embedded-worker")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def stop(self, timeout: float = 20.0) -> None:
        self._stopping.set()
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()

    def _spawn(self) -> None:
        # the web server's metrics directory is for its gunicorn workers: a job worker's pool children
        # would leave sample files there that every scrape adds up
        env = {name: value for name, value in os.environ.items() if name != MULTIPROC_ENV}
        self._process = subprocess.Popen(self.argv, preexec_fn=set_parent_death_signal, env=env)  # noqa: S603, PLW1509
        log.info("embedded job worker started (pid %d)", self._process.pid)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            code = process.wait()
            if self._stopping.wait(RESTART_DELAY_S):
                return
            log.warning("embedded job worker exited (%s); starting another", code)
            self._spawn()
