"""The pipeline hands services only what passed its checks."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime

from cds_server.fhir.client import UnavailableFetcher
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Source
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.pipeline import CallContext
from cds_server.hooks.pipeline import PipelineDeps
from cds_server.hooks.pipeline import handle_hook
from cds_server.hooks.registry import ServiceRegistry
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookCall
from tests.support.requests import golden_request


def test_services_see_fhir_server_only_when_the_client_may_use_it() -> None:
    seen: list[str | None] = []

    def handler(call: HookCall) -> list[Card]:
        seen.append(call.fhir_server)
        return [Card(summary="ok", indicator="info", source=Source(label="t"))]

    registry = ServiceRegistry()
    registry.register(CdsService(id="s", hook="patient-view", description="d", handler=handler))
    body = golden_request("patient-view")
    context = CallContext(
        request_id="r",
        client=ClientIdentity(issuer="https://ehr.example.org"),
        now=datetime(2026, 1, 1, tzinfo=UTC),
        received=time.monotonic(),
        deadline=time.monotonic() + 1,
    )
    for allowed in ("https://ehr.example.org/fhir/r4", None):
        deps = PipelineDeps(
            registry=registry,
            open_fetcher=lambda request: UnavailableFetcher("unused"),
            checked_fhir_server=lambda request, allowed=allowed: allowed,
        )
        handle_hook("s", body, deps, context)
    assert seen == ["https://ehr.example.org/fhir/r4", None]
