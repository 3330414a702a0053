"""A running unit's heartbeat: renews its lease in the background and notices when it is gone."""

from __future__ import annotations

import logging
import threading
import time

from cds_server.errors import DatabaseUnavailable
from cds_server.jobs.claims import Claim
from cds_server.jobs.claims import JobClaims
from cds_server.jobs.errors import JobAbandoned

log = logging.getLogger(__name__)


class Lease:
    """Context manager around a unit's work; :meth:`check` raises once the claim is lost.

    The claim is lost when a renewal finds it cancelled or handed on, or when no renewal succeeded for
    a whole lease (the database was unreachable: the reaper may already have handed the unit on).
    """

    def __init__(self, claims: JobClaims, claim: Claim, *, heartbeat_s: float, lease_s: float) -> None:
        self._claims = claims
        self._claim = claim
        self._every = heartbeat_s
        self._lease_s = lease_s
        self._stop = threading.Event()
        self._lost = threading.Event()
        self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"lease-{claim.job_id[:8]}")

    @property
    def lost(self) -> bool:
        if time.monotonic() - self._renewed > self._lease_s:
            self._lost.set()
        return self._lost.is_set()

    def check(self) -> None:
        """:raise JobAbandoned: the claim is gone; stop without writing anything."""
        if self.lost:
            raise JobAbandoned("lease-lost", "The job was cancelled or handed to another worker.")

    def __enter__(self) -> Lease:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)

    def _beat(self) -> None:
        while not self._stop.wait(self._every):
            try:
                held = self._claims.renew(self._claim)
            except DatabaseUnavailable:
                log.warning(
                    "job %s unit %d: heartbeat not recorded (database unavailable)",
                    self._claim.job_id,
                    self._claim.unit,
                )
                continue
            if not held:
                log.info(
                    "job %s unit %d: claim lost (cancelled or handed on)",
                    self._claim.job_id,
                    self._claim.unit,
                )
                self._lost.set()
                return
            self._renewed = time.monotonic()
