"""One hook call, top to bottom, in the order the CDS Hooks spec describes it.

Pure orchestration: everything with I/O arrives through :class:`PipelineDeps`, so tests (and the
Celery jobs) run the same function with other edges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cds_server.errors import CdsError
from cds_server.errors import PrefetchUnavailable
from cds_server.errors import ServiceNotFound
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.prefetch import CompletedPrefetch
from cds_server.hooks.prefetch import FhirFetcher
from cds_server.hooks.prefetch import complete_prefetch
from cds_server.hooks.registry import ServiceRegistry
from cds_server.hooks.request import HookRequest
from cds_server.hooks.request import parse_hook_request
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookCall


class InvalidServiceResponse(CdsError):
    """A service produced cards that break the CDS Hooks rules: a bug in that service, not the request."""

    code = "invalid-service-response"
    default_message = "The service produced an invalid response."


@dataclass(frozen=True)
class PipelineDeps:
    registry: ServiceRegistry
    #: binds a request to its FHIR server (or to the reason it has none)
    open_fetcher: Callable[[HookRequest], FhirFetcher]


@dataclass(frozen=True)
class HookResult:
    request: HookRequest
    service: CdsService
    prefetch: CompletedPrefetch
    response: HookResponse


def handle_hook(
    service_id: str, body: Any, deps: PipelineDeps, *, now: datetime, deadline: float
) -> HookResult:
    """Answer ``POST /cds-services/{service_id}`` with ``body`` (already decoded JSON).

    ``now`` is the clinical time of the call (the request's receipt); ``deadline`` is a
    ``time.monotonic()`` instant by which every FHIR fetch must be over.

    :raise ServiceNotFound: unknown ``service_id`` (404).
    :raise InvalidHookRequest: the body is not a valid request for this service (400).
    :raise PrefetchUnavailable: required data could be neither used nor fetched (412).
    """
    if not deps.registry.has(service_id):
        raise ServiceNotFound()
    request = parse_hook_request(body)
    service = deps.registry.get(service_id, request.hook)
    prefetch = complete_prefetch(
        service, request, fetcher=deps.open_fetcher(request), today=now.date(), deadline=deadline
    )
    if prefetch.missing_required:
        raise PrefetchUnavailable(
            issues=[f"prefetch key {key!r}: {reason}" for key, reason in prefetch.missing_required.items()]
        )
    call = HookCall(service, request, prefetch.values, prefetch.unavailable, now)
    return HookResult(request, service, prefetch, _respond(service, call))


def _respond(service: CdsService, call: HookCall) -> HookResponse:
    try:
        answer: HookResponse | Sequence[Card] = service.handler(call)
        if isinstance(answer, HookResponse):
            return answer
        return HookResponse(cards=tuple(answer))
    except ValidationError:
        raise InvalidServiceResponse() from None


def monotonic_deadline(seconds: float) -> float:
    return time.monotonic() + seconds
