"""Active vs shadow: how a candidate model version would have answered the same live calls.

Each decision records the active version's outputs and every shadow version's outputs on the same
inputs. Before promoting a shadow by configuration, an operator wants: how often both put the
patient in the same risk band, how far the numbers are apart, and how both distributions look.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ShadowComparison:
    output: str
    active_version: str
    shadow_version: str
    pairs: int
    band_agreement: float | None
    mean_absolute_difference: float | None
    max_absolute_difference: float | None
    correlation: float | None
    active_histogram: tuple[int, ...]
    shadow_histogram: tuple[int, ...]
    bin_edges: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "activeVersion": self.active_version,
            "shadowVersion": self.shadow_version,
            "pairs": self.pairs,
            "bandAgreement": self.band_agreement,
            "meanAbsoluteDifference": self.mean_absolute_difference,
            "maxAbsoluteDifference": self.max_absolute_difference,
            "correlation": self.correlation,
            "histogram": {
                "edges": list(self.bin_edges),
                "active": list(self.active_histogram),
                "shadow": list(self.shadow_histogram),
            },
        }


def band_index(value: float, thresholds: Sequence[float]) -> int:
    """Which band a value falls in: the number of (sorted) thresholds it reaches."""
    return sum(1 for threshold in sorted(thresholds) if value >= threshold)


def compare(
    output: str,
    active_version: str,
    shadow_version: str,
    pairs: Sequence[tuple[float, float]],
    *,
    thresholds: Sequence[float] = (),
    bins: int = 10,
) -> ShadowComparison:
    """Compare (active, shadow) output pairs of the same calls; non-finite pairs are left out."""
    finite = [(a, s) for a, s in pairs if math.isfinite(a) and math.isfinite(s)]
    if not finite:
        return ShadowComparison(output, active_version, shadow_version, 0, None, None, None, None, (), (), ())
    active = [a for a, _ in finite]
    shadow = [s for _, s in finite]
    differences = [abs(a - s) for a, s in finite]
    agreement = (
        sum(band_index(a, thresholds) == band_index(s, thresholds) for a, s in finite) / len(finite)
        if thresholds
        else None
    )
    low, high = min(active + shadow), max(active + shadow)
    if high == low:
        high = low + 1.0
    edges = tuple(low + (high - low) * i / bins for i in range(bins + 1))
    return ShadowComparison(
        output,
        active_version,
        shadow_version,
        len(finite),
        agreement,
        statistics.fmean(differences),
        max(differences),
        _correlation(active, shadow),
        _histogram(active, edges),
        _histogram(shadow, edges),
        edges,
    )


def _histogram(values: Sequence[float], edges: Sequence[float]) -> tuple[int, ...]:
    counts = [0] * (len(edges) - 1)
    width = edges[-1] - edges[0]
    for value in values:
        index = int((value - edges[0]) / width * len(counts))
        counts[min(max(index, 0), len(counts) - 1)] += 1
    return tuple(counts)


def _correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    if len(xs) < 3:
        return None
    try:
        return statistics.correlation(xs, ys)
    except statistics.StatisticsError:  # a constant series has no correlation
        return None
