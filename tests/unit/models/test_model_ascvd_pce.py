"""ascvd-pce against published vectors (Goff 2014; bcjaeger/PooledCohort tests), via the ONNX file."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

import pytest

from cds_server.inference import Prediction

Score = Callable[[str, Mapping[str, float]], Prediction]


def example(*, male: int, black: int, **changes: float) -> dict[str, float]:
    """Goff 2014 worked example: 55 y, TC 213, HDL 50, untreated SBP 120, non-smoker, no diabetes."""
    values = {
        "age_years": 55,
        "sex_male": male,
        "race_black": black,
        "total_cholesterol": 213,
        "hdl_cholesterol": 50,
        "systolic_bp": 120,
        "on_bp_treatment": 0,
        "current_smoker": 0,
        "diabetes": 0,
    }
    return {name: float(value) for name, value in {**values, **changes}.items()}


GROUPS = {
    "white woman": (0, 0),
    "African-American woman": (0, 1),
    "white man": (1, 0),
    "African-American man": (1, 1),
}


@pytest.mark.parametrize(
    ("group", "paper_percent", "exact_percent"),
    [
        # Paper (Table A, as printed) and the exact arithmetic with the precise coefficients (§B4.1).
        ("white woman", 2.1, 2.05),
        ("African-American woman", 3.0, 3.00),
        ("white man", 5.3, 5.38),
        ("African-American man", 6.1, 6.06),
    ],
)
def test_the_papers_55_year_old_examples(
    score: Score, group: str, paper_percent: float, exact_percent: float
) -> None:
    male, black = GROUPS[group]
    risk_percent = 100 * score("ascvd-pce", example(male=male, black=black)).outputs["risk_10y"]
    assert abs(risk_percent - paper_percent) <= 0.1 + 1e-9
    assert risk_percent == pytest.approx(exact_percent, abs=0.005)


@pytest.mark.parametrize(
    ("changes", "expected_percent"),
    [
        # bcjaeger/PooledCohort tests/testthat/test-predict_10yr_ascvd_risk.R, order (WF, AAF, WM, AAM).
        ({}, (2.1, 3.0, 5.4, 6.1)),
        ({"on_bp_treatment": 1}, (2.8, 4.6, 6.3, 9.9)),
        ({"current_smoker": 1}, (5.0, 5.9, 10.0, 10.3)),
        ({"diabetes": 1}, (3.9, 7.0, 10.1, 11.2)),
    ],
    ids=["untreated", "treated-bp", "smoker", "diabetes"],
)
def test_pooled_cohort_package_vectors_to_one_decimal(
    score: Score, changes: dict[str, float], expected_percent: tuple[float, ...]
) -> None:
    for (male, black), expected in zip(GROUPS.values(), expected_percent, strict=True):
        risk = score("ascvd-pce", example(male=male, black=black, **changes)).outputs["risk_10y"]
        assert round(100 * risk, 1) == expected


def test_the_extra_20_8_percent_vector(score: Score) -> None:
    values = example(
        male=1, black=0, age_years=54, total_cholesterol=170, systolic_bp=157, current_smoker=1, diabetes=1
    )
    risk = score("ascvd-pce", values).outputs["risk_10y"]
    assert round(100 * risk, 1) == 20.8


def test_other_races_use_the_white_equations(score: Score) -> None:
    # race_black = 0 is the encoding for every non-Black patient, so White and "other" are one row;
    # what we can pin is that the 0 row is exactly the white-equation result and differs from Black.
    white = score("ascvd-pce", example(male=0, black=0)).outputs["risk_10y"]
    black = score("ascvd-pce", example(male=0, black=1)).outputs["risk_10y"]
    assert white == pytest.approx(0.020544, abs=5e-6)
    assert black != pytest.approx(white, abs=1e-3)


@pytest.mark.parametrize(
    ("name", "inside", "outside", "reason"),
    [
        ("age_years", (40, 79), (39, 80), "adults aged 40 to 79"),
        ("total_cholesterol", (130, 320), (129, 321), "130-320 mg/dL"),
        ("hdl_cholesterol", (20, 100), (19, 101), "20-100 mg/dL"),
        ("systolic_bp", (90, 200), (89, 201), "90-200 mmHg"),
    ],
)
def test_applicability_limits(
    score: Score, name: str, inside: tuple[float, float], outside: tuple[float, float], reason: str
) -> None:
    for value in inside:
        assert score("ascvd-pce", example(male=1, black=0, **{name: value})).usable
    for value in outside:
        prediction = score("ascvd-pce", example(male=1, black=0, **{name: value}))
        assert not prediction.usable
        assert len(prediction.inapplicable) == 1
        assert prediction.inapplicable[0].startswith(name)
        assert reason in prediction.inapplicable[0]


@pytest.mark.parametrize("flag", ["sex_male", "race_black", "on_bp_treatment", "current_smoker", "diabetes"])
def test_flags_must_be_zero_or_one(score: Score, flag: str) -> None:
    prediction = score("ascvd-pce", example(male=1, black=0, **{flag: 2}))
    assert prediction.inapplicable == (f"{flag} must be one of 0, 1",)


def test_treated_and_untreated_sbp_terms_are_exclusive(score: Score) -> None:
    untreated = score("ascvd-pce", example(male=1, black=0, systolic_bp=150)).outputs["risk_10y"]
    treated = score("ascvd-pce", example(male=1, black=0, systolic_bp=150, on_bp_treatment=1)).outputs[
        "risk_10y"
    ]
    assert treated > untreated
