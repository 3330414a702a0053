"""The worker's background loop: the outbox relay every ``job_relay_interval_s``, the reaper every
``job_reaper_interval_s``. It runs as a thread in each worker's main process (no separate scheduler to
deploy); relays and reapers of several workers may overlap safely (see their modules)."""

from __future__ import annotations

import logging
import threading
import time

from cds_server.config import Settings
from cds_server.errors import DatabaseUnavailable
from cds_server.jobs.outbox import Publisher
from cds_server.jobs.outbox import relay_once
from cds_server.jobs.reaper import ReaperPolicy
from cds_server.jobs.reaper import reap
from cds_server.persistence.database import Database

log = logging.getLogger(__name__)


class MaintenanceLoop:
    def __init__(self, database: Database, publisher: Publisher, settings: Settings) -> None:
        self.database = database
        self.publisher = publisher
        self.relay_every = settings.job_relay_interval_s
        self.reap_every = settings.job_reaper_interval_s
        self.policy = ReaperPolicy(
            requeue_after_s=settings.job_requeue_after_s, expire_after_s=settings.job_expire_after_s
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="cds-job-maintenance")

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def run_once(self, *, with_reaper: bool = True) -> None:
        if with_reaper:
            reap(self.database, self.policy)
        relay_once(self.database, self.publisher)

    def _run(self) -> None:
        next_reap = time.monotonic()
        while not self._stop.is_set():
            due = time.monotonic() >= next_reap
            try:
                self.run_once(with_reaper=due)
            except DatabaseUnavailable:
                log.warning("job maintenance: database unavailable; trying again")
            except Exception as error:  # the loop must outlive any one bad run
                log.error("job maintenance failed: %s", type(error).__name__)
            if due:
                next_reap = time.monotonic() + self.reap_every
            self._stop.wait(self.relay_every)
