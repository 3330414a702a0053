"""The one way the benchmarks summarise a list of millisecond timings."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    """The sample below which ``fraction`` of them lie (nearest rank, no interpolation)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def median_p99(samples: list[float]) -> dict[str, float]:
    return {"median_ms": statistics.median(samples), "p99_ms": percentile(samples, 0.99)}
