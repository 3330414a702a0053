"""Fail fast while the database is known to be unreachable.

A blackholed PostgreSQL costs a full ``connect_timeout`` (2 s, libpq's minimum) per connection
attempt. Without a guard, one call would pay it twice (replay check, then the audit of the 503) and
every server thread would sit in it during an outage. After a failed connect, attempts in the next
``cooldown_s`` fail at once; the first one after it probes again. Only connection *establishment* is
guarded: statement failures (a lock wait hitting ``statement_timeout``) never open it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class DatabaseUnreachable(ConnectionError):
    """A connect was not attempted because the last one failed moments ago."""


class ConnectGuard:
    def __init__(self, cooldown_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self._clock() < self._open_until

    def check(self) -> None:
        """:raise DatabaseUnreachable: a connect failed less than ``cooldown_s`` ago."""
        if self.is_open:
            raise DatabaseUnreachable("database unreachable moments ago; not retrying yet")

    def failed(self) -> None:
        with self._lock:
            self._open_until = self._clock() + self.cooldown_s

    def succeeded(self) -> None:
        with self._lock:
            self._open_until = 0.0
