"""The Prometheus metrics the server records, and the one function per event that records them.

Callers pass label values they have already bounded (a registered service id, a known hook, a fixed
reason code): nothing here sees a patient id, a URL or a token. Each recorder costs a few
microseconds (a dict lookup for the labelled child, then a locked add); see README "Monitoring" for
the measured cost on the hook path.
"""

from __future__ import annotations

import re
from typing import Any
from typing import TypeVar

from prometheus_client import Counter
from prometheus_client import Histogram

#: hook latencies: the budget is 3 ms p50 in process; FHIR fetches and slow databases reach seconds
HOOK_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: one onnxruntime run of a handful of rows takes microseconds; a population chunk, milliseconds
INFERENCE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)
FHIR_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
#: the label value of anything outside its known set (an unregistered service id in a URL, ...)
OTHER = "other"
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")

HOOK_REQUEST_SECONDS = Histogram(
    "cds_hook_request_duration_seconds",
    "Hook calls (POST /cds-services/{id}) by service, hook and HTTP status: server-side time from "
    "receipt to response.",
    ("service", "hook", "status"),
    buckets=HOOK_BUCKETS,
)
HTTP_REQUEST_SECONDS = Histogram(
    "cds_http_request_duration_seconds",
    "Every other HTTP request by Flask endpoint, method and status.",
    ("endpoint", "method", "status"),
    buckets=HOOK_BUCKETS,
)
FHIR_FETCH_SECONDS = Histogram(
    "cds_fhir_fetch_duration_seconds",
    "Fetches from the EHR's FHIR server to complete a prefetch key (all pages), by resource type and "
    "outcome (ok or the failure reason).",
    ("resource_type", "outcome"),
    buckets=FHIR_BUCKETS,
)
FHIR_FETCH_ERRORS = Counter(
    "cds_fhir_fetch_errors_total",
    "Prefetch keys the FHIR server could not complete, by resource type and reason.",
    ("resource_type", "reason"),
)
INFERENCE_SECONDS = Histogram(
    "cds_inference_duration_seconds",
    "onnxruntime runs by model, version, execution provider used and role (active or shadow).",
    ("model", "version", "provider", "role"),
    buckets=INFERENCE_BUCKETS,
)
CARDS = Counter(
    "cds_cards_total",
    "Cards returned to EHRs by service and indicator (info, warning, critical).",
    ("service", "indicator"),
)
FEEDBACK = Counter(
    "cds_feedback_total",
    "Feedback items received by service and outcome (accepted, overridden).",
    ("service", "outcome"),
)


Metric = TypeVar("Metric", Counter, Histogram)
#: labelled children by (metric name, label values): ``labels()`` takes a lock and builds a key on
#: every call, a dict lookup does not (the label sets are bounded, so this cannot grow without end)
_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Metric, *values: str) -> Metric:
    key = (metric._name, *values)  # the metric's own name keeps the keys of different metrics apart
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return child


def observe_hook_call(service: str, hook: str, status: int, seconds: float) -> None:
    _child(HOOK_REQUEST_SECONDS, service, hook, str(status)).observe(seconds)


def observe_http_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    _child(HTTP_REQUEST_SECONDS, endpoint, method, str(status)).observe(seconds)


def observe_fhir_fetch(resource_type: str, reason: str | None, seconds: float) -> None:
    """One prefetch key's fetch; ``reason`` is ``None`` on success, else the fetcher's reason code."""
    kind = resource_type if _RESOURCE_TYPE.match(resource_type) else OTHER
    _child(FHIR_FETCH_SECONDS, kind, reason or "ok").observe(seconds)
    if reason is not None:
        _child(FHIR_FETCH_ERRORS, kind, reason).inc()


def observe_inference(model: str, version: str, provider: str, role: str, seconds: float) -> None:
    _child(INFERENCE_SECONDS, model, version, provider, role).observe(seconds)


def count_card(service: str, indicator: str) -> None:
    _child(CARDS, service, indicator).inc()


def count_feedback(service: str, outcome: str) -> None:
    _child(FEEDBACK, service, outcome).inc()
