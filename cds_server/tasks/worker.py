"""``cds-server worker``: a Celery worker (prefork pool) whose main process also runs the outbox relay
and the reaper. The worker entry builds the app with :func:`cds_server.create_app`, like gunicorn's
workers; tasks run inside its app context.

Embedded under ``cds-server serve`` the worker is a child process that dies with its parent: the
kernel signals it when the parent dies (``PR_SET_PDEATHSIG`` on Linux), and a watchdog thread notices a
new parent process id everywhere else.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

log = logging.getLogger(__name__)


def run_worker(*, concurrency: int | None, loglevel: str, parent_pid: int | None) -> None:
    from cds_server import create_app
    from cds_server.config import load_settings
    from cds_server.state import get_state
    from cds_server.tasks.celery_app import make_celery
    from cds_server.telemetry.logs import configure_logging

    log_format = load_settings().log_format
    configure_logging(log_format, level=loglevel)
    app = create_app()
    settings = get_state(app).settings
    celery = make_celery(app)
    if parent_pid is not None:
        _die_with(parent_pid)
    argv = [
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency or settings.worker_concurrency}",
        f"--queues={settings.job_queue}",
        f"--hostname=cds-{os.getpid()}@%h",
        f"--loglevel={loglevel.upper()}",
        # no worker-to-worker chatter: nothing here needs it, and it slows start-up
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if log_format == "json":
        argv.append("--quiet")  # Celery's start-up banner is not a log line: JSON collectors would choke
    celery.worker_main(argv)


def _die_with(parent_pid: int) -> None:
    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                log.warning("parent process %d is gone; worker shutting down", parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="parent-watchdog").start()


def set_parent_death_signal() -> None:
    """``preexec_fn`` of the embedded worker: the kernel sends SIGTERM when the parent dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
