"""prevent against Khan 2024 Table S12 (base 10-year model), via the ONNX file."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping

import pytest

from cds_server.inference import ModelRegistry
from cds_server.inference import Prediction

Score = Callable[[str, Mapping[str, float]], Prediction]


def table_s12(*, female: int, **changes: float) -> dict[str, float]:
    """50 y, TC 200, HDL 45, SBP 160 treated, diabetes, non-smoker, BMI 35, eGFR 90, no statin."""
    values = {
        "age_years": 50,
        "sex_female": female,
        "total_cholesterol": 200,
        "hdl_cholesterol": 45,
        "systolic_bp": 160,
        "on_bp_treatment": 1,
        "on_statin": 0,
        "diabetes": 1,
        "current_smoker": 0,
        "egfr": 90,
        "bmi": 35,
    }
    return {name: float(value) for name, value in {**values, **changes}.items()}


@pytest.mark.parametrize(
    ("female", "cvd", "ascvd", "hf"),
    [
        # Khan et al. 2024 Table S12, as pinned in bcjaeger/PooledCohort
        # tests/testthat/test-predict_10yr_{cvd,ascvd,hf}_risk.R
        (1, 0.1468, 0.0920, 0.0806),
        (0, 0.1632, 0.1019, 0.1059),
    ],
    ids=["women", "men"],
)
def test_table_s12_to_four_decimals(score: Score, female: int, cvd: float, ascvd: float, hf: float) -> None:
    outputs = score("prevent", table_s12(female=female)).outputs
    assert round(outputs["cvd_10y"], 4) == cvd
    assert round(outputs["ascvd_10y"], 4) == ascvd
    assert round(outputs["hf_10y"], 4) == hf


@pytest.mark.parametrize(("age", "usable"), [(29, False), (30, True), (79, True), (80, False)])
def test_ages_30_to_79(score: Score, age: float, usable: bool) -> None:
    prediction = score("prevent", table_s12(female=1, age_years=age))
    assert prediction.usable is usable
    if not usable:
        assert prediction.inapplicable == (
            "age_years is outside 30 to 79 years: "
            "the PREVENT equations were developed for adults aged 30 to 79",
        )


@pytest.mark.parametrize(
    ("name", "outside"),
    [("total_cholesterol", 321), ("hdl_cholesterol", 19), ("systolic_bp", 89), ("egfr", 14), ("bmi", 41)],
)
def test_other_input_ranges(score: Score, name: str, outside: float) -> None:
    prediction = score("prevent", table_s12(female=0, **{name: outside}))
    assert not prediction.usable
    assert prediction.inapplicable[0].startswith(name)


def test_bmi_enters_only_the_heart_failure_equation(score: Score) -> None:
    lean = score("prevent", table_s12(female=1, bmi=22)).outputs
    obese = score("prevent", table_s12(female=1, bmi=38)).outputs
    assert lean["cvd_10y"] == obese["cvd_10y"]
    assert lean["ascvd_10y"] == obese["ascvd_10y"]
    assert obese["hf_10y"] > lean["hf_10y"]


def test_statins_change_cvd_through_the_treated_non_hdl_term(score: Score) -> None:
    without = score("prevent", table_s12(female=0)).outputs
    with_statin = score("prevent", table_s12(female=0, on_statin=1)).outputs
    assert with_statin["cvd_10y"] != without["cvd_10y"]
    assert with_statin["hf_10y"] == without["hf_10y"]  # no statin terms in the HF equation


def test_the_equations_are_race_free(models: ModelRegistry) -> None:
    assert not any("race" in name for name in models.card("prevent").input_names)
