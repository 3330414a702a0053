"""prometheus_client's multiprocess mode for ``cds-server serve``: one fresh directory per run.

gunicorn's workers are separate processes; each writes its samples to memory-mapped files in
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds them up. prometheus_client decides the mode when it
is first imported, so :func:`metrics_directory` must run in the gunicorn master before anything
imports it (the workers are forked from the master and inherit the choice). Files left by an earlier
run would be added to this one's counts, hence a new directory per run, removed when the server stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

#: where prometheus_client's multiprocess mode keeps its files (its own variable name)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsModeError(RuntimeError):
    """prometheus_client was imported before the multiprocess directory was set: counts would be
    per worker, and ``/metrics`` would show whichever worker answered."""


@contextlib.contextmanager
def metrics_directory() -> Iterator[str]:
    """Create the run's directory, export it to this process and its children, remove it at the end."""
    if "prometheus_client" in sys.modules:
        raise MetricsModeError("prometheus_client was imported before the metrics directory was set up")
    directory = tempfile.mkdtemp(prefix="cds-server-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)


def worker_exited(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook: a dead worker's live gauges no longer count."""
    from prometheus_client import multiprocess

    directory = os.environ.get(MULTIPROC_ENV)
    if directory:
        multiprocess.mark_process_dead(worker.pid, directory)  # type: ignore[no-untyped-call]
