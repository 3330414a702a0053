"""One hook call, top to bottom, in the order the CDS Hooks spec describes it.

Pure orchestration: everything with I/O arrives through :class:`PipelineDeps`, so tests (and the
Celery jobs) run the same function with other edges.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cds_server.errors import CdsError
from cds_server.errors import PrefetchUnavailable
from cds_server.errors import ServiceNotFound
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.decisions import AuditOutcome
from cds_server.hooks.decisions import CallRecord
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.decisions import DecisionStore
from cds_server.hooks.decisions import ServiceAnswer
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
    #: durable audit and decisions; ``None`` only in tests of the pure flow
    decisions: DecisionStore | None = None
    #: the request's ``fhirServer`` base if the calling client may use it, else ``None`` (no I/O but DNS)
    checked_fhir_server: Callable[[HookRequest], str | None] = lambda request: None


@dataclass(frozen=True)
class CallContext:
    """Facts about the HTTP call the pipeline needs: who, when, until when."""

    request_id: str
    client: ClientIdentity
    #: wall-clock receipt time: the clinical "now" of the call
    now: datetime
    #: ``time.monotonic()`` at receipt
    received: float
    #: ``time.monotonic()`` instant by which every FHIR fetch must be over
    deadline: float
    #: hosts card links may point to for this client; ``None``: links are not restricted
    link_hosts: frozenset[str] | None = None


@dataclass(frozen=True)
class HookResult:
    request: HookRequest
    service: CdsService
    response: HookResponse
    prefetch: CompletedPrefetch | None
    answer: ServiceAnswer | None
    replayed: bool = False


def handle_hook(service_id: str, body: Any, deps: PipelineDeps, call: CallContext) -> HookResult:
    """Answer ``POST /cds-services/{service_id}`` with ``body`` (already decoded JSON).

    Every accepted call (valid for an existing service) is recorded exactly once — including calls
    that end in 412 or 503 — and the record is committed before the response exists.

    :raise ServiceNotFound: unknown ``service_id`` (404).
    :raise InvalidHookRequest: the body is not a valid request for this service (400).
    :raise PrefetchUnavailable: required data could be neither used nor fetched (412).
    :raise ServiceUnavailable: a dependency (model, audit store) is not available (503).
    """
    if not deps.registry.has(service_id):
        raise ServiceNotFound()
    request = parse_hook_request(body)
    service = deps.registry.get(service_id, request.hook)
    audit = _Audit(deps.decisions, call, service, request)
    try:
        result = _decide(service, request, deps, call, audit)
    except CdsError as error:
        # A retry of a call decided earlier gets the first answer's cards, even if this attempt could
        # not complete (the FHIR server went away since, say). Looked up only here, on the rare error
        # path: on the common path the store finds the earlier decision when it records.
        stored = _earlier_answer(deps, call, service, request)
        if stored is None:
            audit.record(status=error.status, error_code=error.code)
            raise
        result = HookResult(request, service, stored, audit.prefetch, None, replayed=True)
    except Exception:
        # a bug in a service still leaves its audit row (outcome 12), then surfaces as a 500
        audit.record(status=500, error_code=CdsError.code)
        raise
    try:
        decided_first = audit.record(status=200, answer=result.answer, replayed=result.replayed)
    except CdsError as error:
        # the decision could not be kept, so no cards leave; the refusal itself is still audited
        # when the audit table can take it (a lock on the decision table, say)
        audit.record(status=error.status, error_code=error.code)
        raise
    if decided_first is not None:
        # a concurrent call with this hookInstance stored its decision first: answer with its cards
        return replace(result, response=decided_first, replayed=True)
    return result


def _earlier_answer(
    deps: PipelineDeps, call: CallContext, service: CdsService, request: HookRequest
) -> HookResponse | None:
    if deps.decisions is None:
        return None
    return deps.decisions.replay(
        client=call.client, service_id=service.id, hook=service.hook, hook_instance=request.hookInstance
    )


def _decide(
    service: CdsService, request: HookRequest, deps: PipelineDeps, call: CallContext, audit: _Audit
) -> HookResult:
    fetcher = deps.open_fetcher(request)
    prefetch = complete_prefetch(
        service, request, fetcher=fetcher, today=call.now.date(), deadline=call.deadline
    )
    audit.prefetch = prefetch
    if prefetch.missing_required:
        missing = prefetch.missing_required.items()
        raise PrefetchUnavailable(issues=[f"prefetch key {key!r}: {reason}" for key, reason in missing])
    hook_call = HookCall(
        service,
        request,
        prefetch.values,
        prefetch.unavailable,
        call.now,
        call.client,
        fhir_server=deps.checked_fhir_server(request),
    )
    answer = _answer(service, hook_call)
    if call.link_hosts is not None:
        answer = replace(answer, response=answer.response.with_links_to(call.link_hosts))
    return HookResult(request, service, answer.response, prefetch, answer)


def _answer(service: CdsService, call: HookCall) -> ServiceAnswer:
    try:
        answer: ServiceAnswer | HookResponse | Sequence[Card] = service.handler(call)
        if isinstance(answer, ServiceAnswer):
            return answer
        if isinstance(answer, HookResponse):
            return ServiceAnswer(answer)
        return ServiceAnswer(HookResponse(cards=tuple(answer)))
    except ValidationError:
        raise InvalidServiceResponse() from None


class _Audit:
    """Builds the one :class:`CallRecord` of a call and hands it to the store."""

    def __init__(
        self, store: DecisionStore | None, call: CallContext, service: CdsService, request: HookRequest
    ) -> None:
        self.store, self.call, self.service, self.request = store, call, service, request
        self.prefetch: CompletedPrefetch | None = None

    def record(
        self,
        *,
        status: int,
        error_code: str | None = None,
        answer: ServiceAnswer | None = None,
        replayed: bool = False,
    ) -> HookResponse | None:
        if self.store is None:
            return None
        fhir_calls: dict[str, int] = {}
        reports = self.prefetch.report if self.prefetch else ()
        for item in reports:
            if item.calls:
                kind = service_prefetch_type(self.service, item.key)
                fhir_calls[kind] = fhir_calls.get(kind, 0) + item.calls
        request = self.request
        return self.store.record(
            CallRecord(
                request_id=self.call.request_id,
                received_at=self.call.now,
                client=self.call.client,
                service_id=self.service.id,
                hook=self.service.hook,
                hook_instance=request.hookInstance,
                user_ref=request.user_id,
                patient_ref=f"Patient/{request.patient_id}" if request.patient_id else None,
                status=status,
                outcome=_outcome(status),
                latency_ms=(time.monotonic() - self.call.received) * 1000,
                error_code=error_code,
                fhir_calls=fhir_calls,
                prefetch_report=tuple(item.as_dict() for item in reports),
                answer=answer,
                replayed=replayed,
            )
        )


def service_prefetch_type(service: CdsService, key: str) -> str:
    for spec in service.prefetch:
        if spec.key == key:
            return spec.resource_type
    return "unknown"


def _outcome(status: int) -> AuditOutcome:
    if status < 400:
        return 0
    if status < 500:
        return 4
    if status == 503:
        return 8
    return 12
