"""``GET /metrics`` (Prometheus) and the request instrumentation that feeds it.

Every response is timed from ``before_request`` to ``after_request``: hook calls by service, hook and
status; everything else by Flask endpoint. Label values are bounded here — a service id only when it
is registered, a hook only when that service serves it, a method only from the standard set — so a
client cannot create label values (or smuggle a patient id into one) through a URL or a body.
``/metrics`` is open like ``/healthz``: it holds no PHI; restrict it at the proxy if counts are
sensitive where you run.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from flask import Flask
from flask import Response
from flask import g
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST

from cds_server.errors import DatabaseUnavailable
from cds_server.hooks.cards import HookResponse
from cds_server.persistence.monitoring import job_counts
from cds_server.state import CdsState
from cds_server.state import get_state
from cds_server.telemetry.exposition import ScrapeSources
from cds_server.telemetry.exposition import metrics_text
from cds_server.telemetry.metrics import OTHER
from cds_server.telemetry.metrics import count_card
from cds_server.telemetry.metrics import count_feedback
from cds_server.telemetry.metrics import observe_hook_call
from cds_server.telemetry.metrics import observe_http_request

bp = Blueprint("metrics", __name__)

HOOK_ENDPOINT = "services.call_service"
_METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"})


def install_request_metrics(app: Flask) -> None:
    app.after_request(_observe)


@bp.get("/metrics")
def metrics() -> Response:
    state = get_state()
    sources = ScrapeSources(
        models=state.models.status,
        database_ok=lambda: bool(state.database.ping()["ok"]),
        job_counts=lambda since: _job_counts(state, since),
    )
    return Response(metrics_text(sources), content_type=CONTENT_TYPE_LATEST)


def note_hook(body: Any) -> None:
    """Remember the request's ``hook`` for the latency label (checked against the registry later)."""
    if isinstance(body, dict) and isinstance(body.get("hook"), str):
        g.metrics_hook = body["hook"]


def count_cards(service_id: str, response: HookResponse) -> None:
    for card in response.cards:
        count_card(service_id, card.indicator)


def count_feedback_items(service_id: str, outcomes: list[str]) -> None:
    service = service_id if get_state().registry.has(service_id) else OTHER
    for outcome in outcomes:
        count_feedback(service, outcome)


def _observe(response: Response) -> Response:
    received = g.get("received")
    if received is None:  # a request that failed before its clock started
        return response
    seconds = time.monotonic() - received
    if request.endpoint == HOOK_ENDPOINT:
        registry = get_state().registry
        service_id = str((request.view_args or {}).get("service_id", ""))
        hooks = registry.hooks_of(service_id)
        hook = g.get("metrics_hook")
        observe_hook_call(
            service_id if hooks else OTHER, hook if hook in hooks else OTHER, response.status_code, seconds
        )
        return response
    method = request.method if request.method in _METHODS else OTHER
    observe_http_request(request.endpoint or "unmatched", method, response.status_code, seconds)
    return response


def _job_counts(state: CdsState, since: Any) -> dict[tuple[str, str], int]:
    try:
        return job_counts(state.database, since=since)
    except DatabaseUnavailable:
        return {}
