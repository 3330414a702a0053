"""news2 against the RCP 2017 chart: both sides of every boundary, via the ONNX file."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings

from cds_server.inference import ModelRegistry
from cds_server.inference import Prediction

Score = Callable[[str, Mapping[str, float]], Prediction]


def vitals(**changes: float) -> dict[str, float]:
    """Observations that score 0 on every parameter, with ``changes`` applied."""
    values = {
        "respiratory_rate": 16,
        "spo2": 97,
        "on_supplemental_oxygen": 0,
        "temperature": 37.0,
        "systolic_bp": 120,
        "heart_rate": 70,
        "consciousness_alert": 1,
        "spo2_scale2": 0,
    }
    return {name: float(value) for name, value in {**values, **changes}.items()}


# parameter -> {value: score}: the values on each side of every boundary of the RCP chart.
BOUNDARIES: dict[str, dict[float, int]] = {
    "respiratory_rate": {8: 3, 9: 1, 11: 1, 12: 0, 20: 0, 21: 2, 24: 2, 25: 3},
    "spo2": {91: 3, 92: 2, 93: 2, 94: 1, 95: 1, 96: 0},
    "systolic_bp": {90: 3, 91: 2, 100: 2, 101: 1, 110: 1, 111: 0, 219: 0, 220: 3},
    "heart_rate": {40: 3, 41: 1, 50: 1, 51: 0, 90: 0, 91: 1, 110: 1, 111: 2, 130: 2, 131: 3},
    "temperature": {35.0: 3, 35.1: 1, 36.0: 1, 36.1: 0, 38.0: 0, 38.1: 1, 39.0: 1, 39.1: 2},
    "consciousness_alert": {1: 0, 0: 3},
}
CHART_BOUNDARIES = [
    (parameter, value, score) for parameter, row in BOUNDARIES.items() for value, score in row.items()
]


@pytest.mark.parametrize(("parameter", "value", "expected"), CHART_BOUNDARIES, ids=str)
def test_every_chart_boundary(score: Score, parameter: str, value: float, expected: int) -> None:
    outputs = score("news2", vitals(**{parameter: value})).outputs
    assert outputs["news2_score"] == expected
    assert outputs["any_parameter_3"] == (1.0 if expected == 3 else 0.0)


SCALE_2 = [
    # (SpO2, on oxygen, SpO2 score): scale 2 is 88-92 = 0, and >= 93 scores only on oxygen.
    *[(v, o, s) for o in (0, 1) for v, s in [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0)]],
    (93, 0, 0),
    (96, 0, 0),
    (97, 0, 0),
    (100, 0, 0),
    (93, 1, 1),
    (94, 1, 1),
    (95, 1, 2),
    (96, 1, 2),
    (97, 1, 3),
    (100, 1, 3),
]


@pytest.mark.parametrize(("spo2", "oxygen", "spo2_score"), SCALE_2)
def test_spo2_scale_2(score: Score, spo2: float, oxygen: int, spo2_score: int) -> None:
    outputs = score("news2", vitals(spo2=spo2, on_supplemental_oxygen=oxygen, spo2_scale2=1)).outputs
    assert outputs["news2_score"] == spo2_score + 2 * oxygen
    assert outputs["any_parameter_3"] == (1.0 if spo2_score == 3 else 0.0)


@pytest.mark.parametrize(("spo2", "spo2_score"), [(91, 3), (93, 2), (95, 1), (96, 0), (100, 0)])
def test_spo2_scale_1_does_not_depend_on_oxygen_except_for_the_oxygen_points(
    score: Score, spo2: float, spo2_score: int
) -> None:
    on_air = score("news2", vitals(spo2=spo2)).outputs["news2_score"]
    on_oxygen = score("news2", vitals(spo2=spo2, on_supplemental_oxygen=1)).outputs["news2_score"]
    assert on_air == spo2_score
    assert on_oxygen == spo2_score + 2


def test_supplemental_oxygen_scores_two_and_is_never_a_red_score(score: Score) -> None:
    outputs = score("news2", vitals(on_supplemental_oxygen=1)).outputs
    assert outputs == {"news2_score": 2.0, "any_parameter_3": 0.0}


def test_the_ig_example_totals_5_not_6(score: Score) -> None:
    # SynaneticsLtd/emergency-department-ig scores 37.5 °C as 1 and totals 6; the RCP chart gives
    # RR 21 -> 2, HR 95 -> 1, SpO2 93% scale 1 -> 2, air -> 0, 37.5 °C -> 0, SBP 120 -> 0, alert -> 0.
    prediction = score(
        "news2", vitals(respiratory_rate=21, heart_rate=95, spo2=93, temperature=37.5, systolic_bp=120)
    )
    assert prediction.outputs["news2_score"] == 5
    assert prediction.outputs["news2_score"] != 6
    assert prediction.outputs["any_parameter_3"] == 0


def test_everything_at_its_worst_scores_20(score: Score) -> None:
    worst = vitals(
        respiratory_rate=30,
        spo2=80,
        on_supplemental_oxygen=1,
        temperature=34,
        systolic_bp=80,
        heart_rate=140,
        consciousness_alert=0,
    )
    assert score("news2", worst).outputs == {"news2_score": 20.0, "any_parameter_3": 1.0}


def test_fahrenheit_is_refused_not_scored(score: Score) -> None:
    prediction = score("news2", vitals(temperature=98.6))
    assert not prediction.usable
    assert prediction.inapplicable[0].startswith("temperature is outside 25 to 45 °C")


def _chart(rr: int, spo2: int, oxygen: int, temp: float, sbp: int, hr: int, alert: int, scale2: int) -> int:
    """The RCP chart written out range by range, independently of the model's tables."""
    total = 0
    if rr <= 8 or rr >= 25:
        total += 3
    elif 9 <= rr <= 11:
        total += 1
    elif 21 <= rr <= 24:
        total += 2
    if not scale2:
        total += 3 if spo2 <= 91 else 2 if spo2 <= 93 else 1 if spo2 <= 95 else 0
    elif spo2 <= 83:
        total += 3
    elif spo2 <= 85:
        total += 2
    elif spo2 <= 87:
        total += 1
    elif spo2 >= 93 and oxygen:
        total += 1 if spo2 <= 94 else 2 if spo2 <= 96 else 3
    total += 2 if oxygen else 0
    if sbp <= 90 or sbp >= 220:
        total += 3
    elif 91 <= sbp <= 100:
        total += 2
    elif 101 <= sbp <= 110:
        total += 1
    if hr <= 40 or hr >= 131:
        total += 3
    elif 111 <= hr <= 130:
        total += 2
    elif 41 <= hr <= 50 or 91 <= hr <= 110:
        total += 1
    total += 0 if alert else 3
    if temp <= 35.0:
        total += 3
    elif 35.1 <= temp <= 36.0 or 38.1 <= temp <= 39.0:
        total += 1
    elif temp >= 39.1:
        total += 2
    return total


@settings(max_examples=300, deadline=None)
@given(
    rr=st.integers(0, 60),
    spo2=st.integers(70, 100),
    oxygen=st.integers(0, 1),
    temp_tenths=st.integers(300, 430),
    sbp=st.integers(50, 260),
    hr=st.integers(20, 200),
    alert=st.integers(0, 1),
    scale2=st.integers(0, 1),
)
def test_the_graph_agrees_with_the_chart_on_charted_values(
    models: ModelRegistry,
    rr: int,
    spo2: int,
    oxygen: int,
    temp_tenths: int,
    sbp: int,
    hr: int,
    alert: int,
    scale2: int,
) -> None:
    temp = temp_tenths / 10
    features = np.array([rr, spo2, oxygen, temp, sbp, hr, alert, scale2], dtype=np.float32)
    outputs = models.predict("news2", features, with_shadow=False).outputs
    assert outputs["news2_score"] == _chart(rr, spo2, oxygen, temp, sbp, hr, alert, scale2)
