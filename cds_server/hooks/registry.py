"""The service registry: ``(id, hook) → CdsService``, and the discovery document built from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from cds_server.errors import InvalidHookRequest
from cds_server.errors import ServiceNotFound
from cds_server.hooks.service import CdsService


class ServiceRegistry:
    """Services by ``(id, hook)``. Registration is thread-safe; lookups read an immutable snapshot."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._services: dict[tuple[str, str], CdsService] = {}

    def register(self, service: CdsService, *, replace: bool = False) -> None:
        """Add a service (HAPI's ``registerService``); a repeated ``(id, hook)`` needs ``replace``."""
        key = (service.id, service.hook)
        with self._lock:
            if key in self._services and not replace:
                raise ValueError(f"service {service.id!r} already serves {service.hook!r}")
            services = dict(self._services)
            services[key] = service
            self._services = services

    def unregister(self, service_id: str, hook: str | None = None) -> None:
        with self._lock:
            self._services = {
                key: svc
                for key, svc in self._services.items()
                if not (key[0] == service_id and (hook is None or key[1] == hook))
            }

    def __iter__(self) -> Iterator[CdsService]:
        return iter(sorted(self._services.values(), key=lambda s: (s.id, s.hook)))

    def __len__(self) -> int:
        return len(self._services)

    def has(self, service_id: str) -> bool:
        return any(key[0] == service_id for key in self._services)

    def hooks_of(self, service_id: str) -> list[str]:
        return sorted(key[1] for key in self._services if key[0] == service_id)

    def get(self, service_id: str, hook: str) -> CdsService:
        """The service answering ``hook`` at ``/cds-services/{service_id}``.

        :raise ServiceNotFound: no service has this id (404).
        :raise InvalidHookRequest: the id exists but does not serve this hook (400).
        """
        service = self._services.get((service_id, hook))
        if service is not None:
            return service
        served = self.hooks_of(service_id)
        if not served:
            raise ServiceNotFound()
        raise InvalidHookRequest(
            f"This service does not serve the hook in the request; it serves: {', '.join(served)}."
        )

    def discovery(self) -> dict[str, Any]:
        """The ``GET /cds-services`` body; ``{"services": []}`` when nothing is registered."""
        return {"services": [service.discovery_entry() for service in self]}
