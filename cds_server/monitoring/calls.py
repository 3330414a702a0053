"""Hook calls summarised for the dashboard: volume, outcomes and latency per service, hook and model.

Pure functions over audited calls (no I/O). Percentiles are nearest-rank over the calls read, so a
p99 of fewer than 100 calls is their maximum — the dashboard shows the count beside it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Protocol


class AuditedCall(Protocol):
    @property
    def recorded_at(self) -> datetime: ...
    @property
    def service_id(self) -> str: ...
    @property
    def hook(self) -> str: ...
    @property
    def status(self) -> int: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def model(self) -> str | None: ...


@dataclass(frozen=True)
class CallSummary:
    service_id: str
    hook: str
    model: str | None
    calls: int
    #: answered 2xx / 4xx / 5xx
    ok: int
    client_errors: int
    server_errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_rate(self) -> float:
        return (self.client_errors + self.server_errors) / self.calls if self.calls else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "serviceId": self.service_id,
            "hook": self.hook,
            "model": self.model,
            "calls": self.calls,
            "ok": self.ok,
            "clientErrors": self.client_errors,
            "serverErrors": self.server_errors,
            "latencyMs": {"p50": self.p50_ms, "p95": self.p95_ms, "p99": self.p99_ms},
        }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an ascending sequence (``q`` in 0..1)."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


def summarise_calls(calls: Sequence[AuditedCall]) -> list[CallSummary]:
    """One summary per (service, hook, active model version), busiest first."""
    groups: dict[tuple[str, str, str | None], list[AuditedCall]] = defaultdict(list)
    for call in calls:
        groups[(call.service_id, call.hook, call.model)].append(call)
    summaries = []
    for (service_id, hook, model), members in groups.items():
        latencies = sorted(call.latency_ms for call in members)
        summaries.append(
            CallSummary(
                service_id=service_id,
                hook=hook,
                model=model,
                calls=len(members),
                ok=sum(1 for call in members if 200 <= call.status < 300),
                client_errors=sum(1 for call in members if 400 <= call.status < 500),
                server_errors=sum(1 for call in members if call.status >= 500),
                p50_ms=percentile(latencies, 0.50),
                p95_ms=percentile(latencies, 0.95),
                p99_ms=percentile(latencies, 0.99),
            )
        )
    return sorted(summaries, key=lambda s: (-s.calls, s.service_id, s.hook, s.model or ""))


def calls_over_time(
    calls: Sequence[AuditedCall], *, since: datetime, until: datetime, buckets: int
) -> tuple[list[datetime], dict[str, list[int]]]:
    """Calls per service in ``buckets`` equal slices of ``[since, until)``: (slice starts, counts)."""
    width = (until - since) / buckets
    starts = [since + width * index for index in range(buckets)]
    counts: dict[str, list[int]] = {}
    for call in calls:
        if not since <= call.recorded_at < until:
            continue
        index = min(int((call.recorded_at - since) / width), buckets - 1)
        counts.setdefault(call.service_id, [0] * buckets)[index] += 1
    return starts, dict(sorted(counts.items()))
