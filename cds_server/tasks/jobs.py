"""The job task, the publisher the outbox relay uses, and the worker's maintenance step."""

from __future__ import annotations

import functools
import logging
from dataclasses import replace
from typing import Any
from typing import ClassVar

from flask import Flask
from flask import current_app

from cds_server.jobs.claims import JobClaims
from cds_server.jobs.context import JobDeps
from cds_server.jobs.maintenance import MaintenanceLoop
from cds_server.jobs.outbox import BrokerUnavailable
from cds_server.jobs.records import JOB_ID_RE
from cds_server.jobs.runner import run_unit
from cds_server.persistence.database import Database
from cds_server.persistence.database import open_database
from cds_server.state import CdsState
from cds_server.state import get_state
from cds_server.tasks.celery_app import TASK_NAME

log = logging.getLogger(__name__)

#: statement timeout of the workers' own connections: job writes (a chunk's results) are bigger than a
#: hook's audit row, and nobody waits on them at the bedside
WORKER_STATEMENT_TIMEOUT_MS = 30_000


def register_tasks(celery: Any) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    @celery.task(  # type: ignore[untyped-decorator]  # Celery has no type hints
        name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True
    )
    def run_job_unit(self: Any, job_id: str, unit: int) -> str:
        """Run one unit of one job. Arguments are ids only; the return value is one word."""
        if (
            not isinstance(job_id, str)
            or not JOB_ID_RE.match(job_id)
            or not isinstance(unit, int)
            or unit < 0
        ):
            log.warning("job message with unusable arguments dropped")
            return "invalid"
        parts = worker_parts(current_app._get_current_object())  # type: ignore[attr-defined]
        return run_unit(
            parts.deps, parts.claims, parts.state.jobs.kinds, job_id, unit, timeouts=(SoftTimeLimitExceeded,)
        )

    from celery import bootsteps

    class JobMaintenanceStep(bootsteps.StartStopStep):  # type: ignore[misc]
        """Outbox relay and reaper in the worker's main process, for as long as the worker runs."""

        requires: ClassVar[set[str]] = {"celery.worker.components:Pool"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            self.loop: MaintenanceLoop | None = None

        def start(self, worker: Any) -> None:
            app = celery.flask_app
            state = get_state(app)
            self.loop = MaintenanceLoop(
                worker_database(state), CeleryPublisher(celery, state.settings.job_queue), state.settings
            )
            self.loop.start()

        def stop(self, worker: Any) -> None:
            if self.loop is not None:
                self.loop.stop()

    celery.steps["worker"].add(JobMaintenanceStep)

    from celery.signals import worker_process_init

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _forget_parent_connections(**_: Any) -> None:
        # a pool child inherits the parent's pooled connections; sharing a socket across processes
        # corrupts both sessions, so the child drops them (without closing the parent's)
        app = getattr(celery, "flask_app", None)
        if app is not None:
            get_state(app).database.engine.dispose(close=False)


class CeleryPublisher:
    """Sends ``(job_id, unit)`` to the jobs queue; any broker failure is :class:`BrokerUnavailable`."""

    def __init__(self, celery: Any, queue: str) -> None:
        self.celery = celery
        self.queue = queue

    def publish(self, job_id: str, unit: int) -> None:
        try:
            self.celery.send_task(
                TASK_NAME, args=[job_id, unit], queue=self.queue, retry=False, ignore_result=True
            )
        except Exception as error:  # kombu, redis and amqp raise many types for "broker unreachable"
            raise BrokerUnavailable(type(error).__name__) from None


class WorkerParts:
    def __init__(self, state: CdsState, database: Database) -> None:
        self.state = state
        settings = state.settings
        self.deps = JobDeps(
            settings=settings,
            mappings=state.mappings,
            models=state.models,
            services=state.registry,
            backends=state.jobs.backends,
        )
        self.claims = JobClaims(database, lease_s=settings.job_lease_s)


@functools.cache
def worker_parts(app: Flask) -> WorkerParts:
    """Built on first use in each pool process (after the fork), so connections are its own."""
    state = get_state(app)
    return WorkerParts(state, worker_database(state))


def worker_database(state: CdsState) -> Database:
    settings = state.settings
    timeout = max(settings.db_statement_timeout_ms, WORKER_STATEMENT_TIMEOUT_MS)
    return open_database(replace(settings, db_statement_timeout_ms=timeout, db_pool_timeout_s=10.0))
