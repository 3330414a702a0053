"""Real job workers for the tests: ``cds-server worker`` processes, killed and restarted on demand.

Each worker runs in its own process group, so "kill the whole worker" takes its pool children too,
as when a host dies. Timings are short (``FAST_JOBS``) so redelivery takes seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path

from tests.support.paths import REPO_ROOT

#: settings that make leases, relays, reapers and redelivery fast enough for a test
FAST_JOBS: Mapping[str, str] = {
    "CDS_JOB_HEARTBEAT_S": "0.25",
    "CDS_JOB_LEASE_S": "2",
    "CDS_JOB_RELAY_INTERVAL_S": "0.1",
    "CDS_JOB_REAPER_INTERVAL_S": "0.3",
    "CDS_JOB_REQUEUE_AFTER_S": "8",
    "CDS_JOB_SOFT_TIME_LIMIT_S": "8",
    "CDS_JOB_TIME_LIMIT_S": "9",
    "CDS_BROKER_VISIBILITY_TIMEOUT_S": "10",
    "CDS_BROKER_RESTORE_INTERVAL_S": "1",
    "CDS_JOB_MODULES": "tests.support.jobs",
}


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every: float = 0.1) -> object:
    """Poll until ``condition()`` is truthy; every wait in the job tests is bounded by this."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class WorkerProcess:
    def __init__(
        self, env: Mapping[str, str], log: Path, *, concurrency: int = 1, loglevel: str = "INFO"
    ) -> None:
        self.log = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cds_server.cli",
                "worker",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                loglevel,
            ],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid

    def wait_ready(self, timeout: float = 60.0) -> WorkerProcess:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited; see {self.log}:\n{self.log.read_text()[-3000:]}")
            return " ready." in self.log.read_text(errors="replace") and bool(self.children())

        wait_for(ready, timeout=timeout, what="the worker to start")
        return self

    def children(self) -> list[int]:
        """The pool processes (children of the worker's main process)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.pid:
                found.append(int(entry.name))
        return found

    def kill_child(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the worker and its pool at once: a host that died."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """End the worker at the end of a test (at once: its database is dropped next)."""
        self.kill()
        self._log.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
