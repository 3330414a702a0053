"""PSI against the model card's reference deciles, and its bands."""

from __future__ import annotations

import math
import random

import pytest

from cds_server.monitoring.drift import decile_shares
from cds_server.monitoring.drift import drift_of
from cds_server.monitoring.drift import psi

EDGES = [float(x) for x in range(0, 110, 10)]  # deciles of a uniform 0-100 reference


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([0.1] * 10, [0.1] * 10) == 0.0


def test_psi_matches_a_hand_computed_value() -> None:
    live, reference = [0.2, 0.3, 0.5], [0.3, 0.3, 0.4]
    expected = (0.2 - 0.3) * math.log(0.2 / 0.3) + (0.5 - 0.4) * math.log(0.5 / 0.4)
    assert psi(live, reference) == pytest.approx(expected)
    assert psi(live, reference) == pytest.approx(0.06286, abs=1e-5)


def test_an_empty_bin_does_not_make_psi_infinite() -> None:
    assert math.isfinite(psi([0.0, 1.0], [0.5, 0.5]))


def test_decile_shares_put_outliers_in_the_end_bins() -> None:
    shares = decile_shares([-50.0, 5.0, 15.0, 95.0, 500.0], EDGES)
    assert shares[0] == pytest.approx(0.4)
    assert shares[1] == pytest.approx(0.2)
    assert shares[-1] == pytest.approx(0.4)
    assert sum(shares) == pytest.approx(1.0)


def test_bands() -> None:
    rng = random.Random(7)
    same = [rng.uniform(0, 100) for _ in range(5000)]
    shifted = [rng.uniform(20, 120) for _ in range(5000)]
    reference = {"n": 1000, "quantiles": EDGES}
    assert drift_of("x", same, reference).band == "stable"
    result = drift_of("x", shifted, reference)
    assert result.band == "significant"
    assert result.psi is not None
    assert result.psi > 0.25
    slight = [rng.uniform(8, 108) for _ in range(5000)]
    assert drift_of("x", slight, reference).band in ("stable", "moderate")


def test_binary_inputs_use_the_proportion() -> None:
    reference = {"n": 100, "proportion": 0.5}
    assert drift_of("flag", [0.0, 1.0] * 50, reference).psi == pytest.approx(0.0)
    assert drift_of("flag", [1.0] * 90 + [0.0] * 10, reference).band == "significant"


def test_too_few_values_or_no_reference() -> None:
    assert drift_of("x", [1.0] * 5, {"quantiles": EDGES}).band == "insufficient-data"
    assert drift_of("x", [1.0] * 50, {"unavailable": "no data"}).band == "no-reference"
    assert drift_of("x", [math.nan] * 50, {"quantiles": EDGES}).band == "insufficient-data"
