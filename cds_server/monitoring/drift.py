"""Input drift: the population stability index (PSI) of live inputs against the model card's reference.

A model card stores each input's reference distribution as deciles (11 edges: min, 10th ... 90th
percentile, max) or, for a 0/1 input, the proportion of ones. Live values are binned the same way;

    PSI = sum over bins of (live_i - ref_i) * ln(live_i / ref_i)

over the bins, with a floor on empty bins so one empty bin does not make it infinite. The usual bands
(reference/ml-serving-and-governance.md §B3.1): < 0.10 stable, 0.10-0.25 moderate shift, > 0.25
significant shift. Pure functions: callers supply the values.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal

#: share given to an empty bin (live or reference) so ln() stays finite
EMPTY_BIN = 1e-4
STABLE, MODERATE = 0.10, 0.25

Band = Literal["stable", "moderate", "significant", "insufficient-data", "no-reference"]


@dataclass(frozen=True)
class DriftResult:
    feature: str
    psi: float | None
    band: Band
    live_count: int
    live_shares: tuple[float, ...] = ()
    reference_shares: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "psi": self.psi,
            "band": self.band,
            "n": self.live_count,
            "live": list(self.live_shares),
            "reference": list(self.reference_shares),
        }


def band_of(psi: float) -> Band:
    if psi < STABLE:
        return "stable"
    if psi <= MODERATE:
        return "moderate"
    return "significant"


def psi(live: Sequence[float], reference: Sequence[float]) -> float:
    """PSI of two share vectors over the same bins (each summing to 1)."""
    total = 0.0
    for observed, expected in zip(live, reference, strict=True):
        o, e = max(observed, EMPTY_BIN), max(expected, EMPTY_BIN)
        total += (o - e) * math.log(o / e)
    return total


def decile_shares(values: Sequence[float], edges: Sequence[float]) -> list[float]:
    """Shares of ``values`` in the 10 bins between 11 decile edges; outliers go to the end bins."""
    inner = list(edges[1:-1])
    counts = [0] * (len(edges) - 1)
    for value in values:
        counts[min(bisect.bisect_right(inner, value), len(counts) - 1)] += 1
    return [count / len(values) for count in counts]


def drift_of(
    feature: str, values: Sequence[float], reference: Mapping[str, Any] | None, *, minimum: int = 30
) -> DriftResult:
    """Drift of one input; fewer than ``minimum`` finite live values is not enough to say."""
    finite = [value for value in values if value is not None and math.isfinite(value)]
    if not reference or ("quantiles" not in reference and "proportion" not in reference):
        return DriftResult(feature, None, "no-reference", len(finite))
    if len(finite) < minimum:
        return DriftResult(feature, None, "insufficient-data", len(finite))
    if "proportion" in reference:
        ones = sum(1 for value in finite if value >= 0.5) / len(finite)
        expected = float(reference["proportion"])
        live_shares, reference_shares = [1 - ones, ones], [1 - expected, expected]
    else:
        edges = [float(edge) for edge in reference["quantiles"]]
        live_shares = decile_shares(finite, edges)
        reference_shares = [1 / (len(edges) - 1)] * (len(edges) - 1)
    value = psi(live_shares, reference_shares)
    return DriftResult(
        feature, value, band_of(value), len(finite), tuple(live_shares), tuple(reference_shares)
    )
