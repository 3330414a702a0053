"""Active vs shadow comparison."""

from __future__ import annotations

import math

import pytest

from cds_server.monitoring.shadow import band_index
from cds_server.monitoring.shadow import compare

PCE_BANDS = (0.05, 0.075, 0.20)


def test_band_index() -> None:
    assert [band_index(v, PCE_BANDS) for v in (0.01, 0.05, 0.07, 0.075, 0.19, 0.2, 0.9)] == [
        0,
        1,
        1,
        2,
        2,
        3,
        3,
    ]


def test_identical_versions_agree_completely() -> None:
    pairs = [(v / 100, v / 100) for v in range(1, 40)]
    result = compare("risk_10y", "1.0.0", "1.0.1", pairs, thresholds=PCE_BANDS)
    assert result.pairs == 39
    assert result.band_agreement == 1.0
    assert result.mean_absolute_difference == 0.0
    assert result.correlation == pytest.approx(1.0)
    assert result.active_histogram == result.shadow_histogram
    assert sum(result.active_histogram) == 39


def test_a_shifted_shadow_disagrees_near_thresholds() -> None:
    pairs = [(0.07, 0.08), (0.10, 0.11), (0.19, 0.21), (0.01, 0.02)]
    result = compare("risk_10y", "1", "2", pairs, thresholds=PCE_BANDS)
    assert result.band_agreement == pytest.approx(0.5)
    assert result.mean_absolute_difference == pytest.approx(0.0125)
    assert result.max_absolute_difference == pytest.approx(0.02)


def test_non_finite_pairs_are_left_out_and_empty_input_is_empty() -> None:
    result = compare("risk_10y", "1", "2", [(math.nan, 0.1), (0.1, math.inf)])
    assert result.pairs == 0
    assert result.band_agreement is None
    assert compare("risk_10y", "1", "2", [(0.1, 0.1)]).band_agreement is None  # no thresholds given
