"""The client registry: who may call, looked up by ``iss`` on every call.

Clients come from four places: the YAML file (``CDS_CLIENTS_FILE``), the ``trusted_client`` table
(``cds-server clients add``), the development client and the CDS Hooks Sandbox (both development
only). The file, the development client and the sandbox are fixed at start-up; the table is re-read at
most every ``refresh_s`` seconds, so a client added or removed with the command takes effect without a
restart. An issuer registered in the file wins over the same issuer in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping

from cds_server.auth.clients import TrustedClient

log = logging.getLogger("cds_server.security")

#: how often the ``trusted_client`` table is re-read, in seconds
REFRESH_S = 30.0

LoadClients = Callable[[], Mapping[str, TrustedClient]]


class ClientRegistry:
    def __init__(
        self,
        fixed: Mapping[str, TrustedClient],
        *,
        load_dynamic: LoadClients | None = None,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fixed = dict(fixed)
        self._load = load_dynamic
        self._refresh_s = refresh_s
        self._clock = clock
        self._dynamic: Mapping[str, TrustedClient] = {}
        self._next_refresh = 0.0
        self._refreshing = threading.Lock()

    def find(self, issuer: str) -> TrustedClient | None:
        """The registered client of ``issuer``, or ``None``."""
        self._maybe_refresh()
        return self._fixed.get(issuer) or self._dynamic.get(issuer)

    def clients(self) -> list[TrustedClient]:
        self._maybe_refresh()
        merged = {**self._dynamic, **self._fixed}
        return [merged[issuer] for issuer in sorted(merged)]

    def refresh(self) -> None:
        """Re-read the table now (the admin endpoint and tests use it)."""
        self._next_refresh = 0.0
        self._maybe_refresh()

    def _maybe_refresh(self) -> None:
        if self._load is None or self._clock() < self._next_refresh:
            return
        # one thread re-reads; the others keep using the previous set meanwhile
        if not self._refreshing.acquire(blocking=False):
            return
        try:
            self._next_refresh = self._clock() + self._refresh_s
            try:
                self._dynamic = self._load()
            except Exception as error:  # keep the clients we have; say why once per interval
                log.warning("trusted clients not re-read from the database: %s", type(error).__name__)
        finally:
            self._refreshing.release()
