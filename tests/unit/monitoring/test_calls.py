"""Call summaries for the dashboard: groups, outcome counts, nearest-rank percentiles, time slices."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from cds_server.monitoring.calls import calls_over_time
from cds_server.monitoring.calls import percentile
from cds_server.monitoring.calls import summarise_calls

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    recorded_at: datetime
    service_id: str
    hook: str
    status: int
    latency_ms: float
    model: str | None = "m 1"


def test_nearest_rank_percentiles() -> None:
    ordered = [float(v) for v in range(1, 101)]
    assert (percentile(ordered, 0.5), percentile(ordered, 0.95), percentile(ordered, 0.99)) == (50, 95, 99)
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_calls_are_grouped_by_service_hook_and_model_busiest_first() -> None:
    calls = [Call(T0, "a", "patient-view", 200, float(ms)) for ms in range(1, 11)]
    calls += [Call(T0, "a", "patient-view", 200, 5.0, model="m 2")]
    calls += [Call(T0, "b", "order-sign", status, 1.0, None) for status in (200, 400, 412, 503)]
    summaries = summarise_calls(calls)
    assert [(s.service_id, s.hook, s.model, s.calls) for s in summaries] == [
        ("a", "patient-view", "m 1", 10),
        ("b", "order-sign", None, 4),
        ("a", "patient-view", "m 2", 1),
    ]
    first, second = summaries[0], summaries[1]
    assert (first.p50_ms, first.p95_ms, first.p99_ms) == (5.0, 10.0, 10.0)
    assert (second.ok, second.client_errors, second.server_errors) == (1, 2, 1)
    assert second.error_rate == 0.75
    assert first.as_dict()["latencyMs"] == {"p50": 5.0, "p95": 10.0, "p99": 10.0}


def test_calls_over_time_fall_in_equal_slices_of_the_window() -> None:
    calls = [
        Call(T0, "a", "h", 200, 1.0),
        Call(T0 + timedelta(minutes=59), "a", "h", 200, 1.0),
        Call(T0 + timedelta(hours=23, minutes=59), "b", "h", 200, 1.0),
        Call(T0 + timedelta(hours=24), "b", "h", 200, 1.0),  # the window's end is outside it
    ]
    starts, counts = calls_over_time(calls, since=T0, until=T0 + timedelta(hours=24), buckets=24)
    assert starts[1] == T0 + timedelta(hours=1)
    assert counts["a"][0] == 2
    assert sum(counts["a"]) == 2
    assert counts["b"][23] == 1
    assert sum(counts["b"]) == 1
