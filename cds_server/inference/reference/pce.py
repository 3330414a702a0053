"""ascvd-pce: 10-year hard ASCVD risk, 2013 ACC/AHA Pooled Cohort Equations, one ONNX graph.

Source: Goff DC Jr et al., 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk,
Circulation 2014;129(25 Suppl 2):S49-S73, Table A (coefficients, means, baseline survival).
Where the paper prints 3 decimals and a more precise value exists (the African-American women's
equation, the means and the baseline survivals), we use the precise value as published in the
Cerner ascvd-risk-calculator (app/load_fhir_data.js) and copied into bcjaeger/PooledCohort
(R/pcr.R); shared/reference/ml-serving-and-governance.md §B4.1 lists both. With the precise
values the paper's worked examples reproduce (the African-American women's sum: 86.16 in the
paper, 86.157 here; 86.17 with 3-decimal coefficients).

Risk = 1 - S0 ^ exp(IndSum - Mean), all four sex/race equations evaluated in double precision and
the patient's one selected with ``Where`` on the 0/1 inputs ``sex_male`` and ``race_black``.
Following the guideline, people of other races use the White equations (race_black = 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cds_server.inference.reference import common
from cds_server.inference.reference.onnx_graph import DOUBLE
from cds_server.inference.reference.onnx_graph import GraphBuilder
from cds_server.inference.reference.onnx_graph import serialize
from cds_server.inference.reference.pce_text import BIBTEX
from cds_server.inference.reference.pce_text import CHOLESTEROL_GUIDELINE_2018
from cds_server.inference.reference.pce_text import KEY_METRICS
from cds_server.inference.reference.pce_text import NARRATIVE
from cds_server.inference.reference.pce_text import REFERENCES
from cds_server.inference.reference.spec import InputDefinition
from cds_server.inference.reference.spec import OutputDefinition
from cds_server.inference.reference.spec import ReferenceModel
from cds_server.inference.reference.spec import SelfTestDefinition
from cds_server.inference.reference.spec import ThresholdDefinition
from cds_server.inference.reference.synthea import METHOD
from cds_server.inference.reference.synthea import SOURCE
from cds_server.inference.reference.synthea import distributions
from cds_server.inference.reference.synthea import lipid_visit_snapshots

MODEL_ID = "ascvd-pce"
VERSION = "1.0.0"

#: Column order of the equations below.
GROUPS = ("white_female", "african_american_female", "white_male", "african_american_male")

#: term -> coefficient per group (GROUPS order). Goff 2014 Table A; bracketed precise values of
#: §B4.1 for the African-American women (Cerner / PooledCohort R/pcr.R).
COEFFICIENTS: dict[str, tuple[float, float, float, float]] = {
    "ln_age": (-29.799, 17.1141, 12.344, 2.469),
    "ln_age_squared": (4.884, 0.0, 0.0, 0.0),
    "ln_total_cholesterol": (13.540, 0.9396, 11.853, 0.302),
    "ln_age_x_ln_total_cholesterol": (-3.114, 0.0, -2.664, 0.0),
    "ln_hdl": (-13.578, -18.9196, -7.990, -0.307),
    "ln_age_x_ln_hdl": (3.149, 4.4748, 1.769, 0.0),
    "ln_treated_sbp": (2.019, 29.2907, 1.797, 1.916),
    "ln_age_x_ln_treated_sbp": (0.0, -6.4321, 0.0, 0.0),
    "ln_untreated_sbp": (1.957, 27.8197, 1.764, 1.809),
    "ln_age_x_ln_untreated_sbp": (0.0, -6.0873, 0.0, 0.0),
    "current_smoker": (7.574, 0.6908, 7.837, 0.549),
    "ln_age_x_current_smoker": (-1.665, 0.0, -1.795, 0.0),
    "diabetes": (0.661, 0.8738, 0.658, 0.645),
}
#: Mean of (coefficient x value) in the derivation cohorts; Table A prints -29.18, 86.61, 61.18, 19.54.
MEAN_SUM = (-29.1817, 86.6081, 61.1816, 19.5425)
#: 10-year baseline survival; Table A prints 0.9665, 0.9533, 0.9144, 0.8954.
BASELINE_SURVIVAL = (0.96652, 0.95334, 0.91436, 0.89536)

_BINARY = (0.0, 1.0)
INPUTS = (
    InputDefinition(
        "age_years",
        "Age in completed years at the time of the request.",
        "a",
        "Patient.birthDate, age in completed years at the reference time",
        applicable_range=(
            40,
            79,
            "the Pooled Cohort Equations were derived and validated only in adults aged 40 to 79",
        ),
    ),
    InputDefinition(
        "sex_male",
        "1 = male, 0 = female (selects the sex-specific equation).",
        "1",
        "Patient.gender (male -> 1, female -> 0); other or unknown gender has no equation",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "race_black",
        "1 = African American / Black, 0 = any other race (uses the White equations, as the guideline "
        "directs).",
        "1",
        "US Core race extension, OMB category 2054-5 (Black or African American) -> 1, otherwise 0",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "total_cholesterol",
        "Total cholesterol.",
        "mg/dL",
        "Observation LOINC 2093-3 (or 14647-2 in mmol/L, converted), most recent",
        applicable_range=(
            130,
            320,
            "the equations are not valid for total cholesterol outside 130-320 mg/dL",
        ),
    ),
    InputDefinition(
        "hdl_cholesterol",
        "HDL cholesterol.",
        "mg/dL",
        "Observation LOINC 2085-9 (or 14646-4 in mmol/L, converted), most recent",
        applicable_range=(20, 100, "the equations are not valid for HDL cholesterol outside 20-100 mg/dL"),
    ),
    InputDefinition(
        "systolic_bp",
        "Systolic blood pressure.",
        "mm[Hg]",
        "Observation LOINC 8480-6 (also as a component of BP panels 85354-9 / 55284-4), most recent",
        applicable_range=(
            90,
            200,
            "the equations are not valid for systolic blood pressure outside 90-200 mmHg",
        ),
    ),
    InputDefinition(
        "on_bp_treatment",
        "1 = currently treated for high blood pressure (the treated-SBP terms apply), else 0.",
        "1",
        "active MedicationRequest/MedicationStatement for an antihypertensive (value set)",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "current_smoker",
        "1 = current smoker, else 0 (former smokers count as 0).",
        "1",
        "Observation LOINC 72166-2 with a current-smoker SNOMED CT value, most recent",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "diabetes",
        "1 = diabetes mellitus, else 0.",
        "1",
        "active Condition in the diabetes value set (SNOMED CT 44054006, 73211009, 46635009, ICD-10-CM "
        "E10/E11/E13)",
        allowed_values=_BINARY,
    ),
)
OUTPUTS = (
    OutputDefinition(
        "risk_10y",
        "Estimated probability of a first hard ASCVD event (nonfatal myocardial infarction, coronary heart "
        "disease death, fatal or nonfatal stroke) within 10 years.",
        "1",
        "float64",
        (0.0, 1.0),
    ),
)

THRESHOLDS = (
    ThresholdDefinition(
        "risk_10y",
        ">=",
        0.05,
        "borderline",
        "10-year risk 5% to <7.5%: borderline risk; discuss risk enhancers.",
        CHOLESTEROL_GUIDELINE_2018,
    ),
    ThresholdDefinition(
        "risk_10y",
        ">=",
        0.075,
        "intermediate",
        "10-year risk 7.5% to <20%: intermediate risk; a clinician-patient risk discussion about "
        "moderate-intensity statin therapy.",
        CHOLESTEROL_GUIDELINE_2018,
    ),
    ThresholdDefinition(
        "risk_10y",
        ">=",
        0.20,
        "high",
        "10-year risk >= 20%: high risk; a clinician-patient discussion about high-intensity statin therapy.",
        CHOLESTEROL_GUIDELINE_2018,
    ),
)


def worked_example(*, male: int, black: int, **changes: float) -> dict[str, float]:
    """The guideline's 55-year-old (TC 213, HDL 50, SBP 120 untreated, non-smoker, no diabetes)."""
    values = {
        "age_years": 55.0,
        "sex_male": float(male),
        "race_black": float(black),
        "total_cholesterol": 213.0,
        "hdl_cholesterol": 50.0,
        "systolic_bp": 120.0,
        "on_bp_treatment": 0.0,
        "current_smoker": 0.0,
        "diabetes": 0.0,
    }
    values.update(changes)
    return values


_POOLED_COHORT_TESTS = (
    "bcjaeger/PooledCohort tests/testthat/test-predict_10yr_ascvd_risk.R (Goff 2014 supplement example)"
)
SELF_TESTS = (
    SelfTestDefinition(
        "55-year-old white woman",
        _POOLED_COHORT_TESTS,
        worked_example(male=0, black=0),
        {"risk_10y": 0.021},
        0.0005,
    ),
    SelfTestDefinition(
        "55-year-old African-American woman",
        _POOLED_COHORT_TESTS,
        worked_example(male=0, black=1),
        {"risk_10y": 0.030},
        0.0005,
    ),
    SelfTestDefinition(
        "55-year-old white man",
        _POOLED_COHORT_TESTS,
        worked_example(male=1, black=0),
        {"risk_10y": 0.054},
        0.0005,
    ),
    SelfTestDefinition(
        "55-year-old African-American man",
        _POOLED_COHORT_TESTS,
        worked_example(male=1, black=1),
        {"risk_10y": 0.061},
        0.0005,
    ),
    SelfTestDefinition(
        "54-year-old white man, TC 170, HDL 50, SBP 157 untreated, smoker, diabetic",
        "bcjaeger/PooledCohort tests/testthat/test-predict_10yr_ascvd_risk.R ('some additional random "
        "examples work')",
        worked_example(
            male=1,
            black=0,
            age_years=54,
            total_cholesterol=170,
            systolic_bp=157,
            current_smoker=1,
            diabetes=1,
        ),
        {"risk_10y": 0.208},
        0.0005,
    ),
)


def build_graph() -> bytes:
    graph = GraphBuilder(width=len(INPUTS), compute_type=DOUBLE)
    age, male, black, tc, hdl, sbp, treated, smoker, diabetes = graph.rows(
        graph.feature_rows, [spec.name for spec in INPUTS]
    )
    ln_age = graph.op("Log", age, hint="ln_age")
    ln_tc = graph.op("Log", tc, hint="ln_total_cholesterol")
    ln_hdl = graph.op("Log", hdl, hint="ln_hdl")
    ln_sbp = graph.op("Log", sbp, hint="ln_sbp")
    untreated = graph.op("Sub", graph.const(1.0), treated, hint="untreated")
    ln_treated_sbp = graph.op("Mul", ln_sbp, treated, hint="ln_treated_sbp")
    ln_untreated_sbp = graph.op("Mul", ln_sbp, untreated, hint="ln_untreated_sbp")

    def times_ln_age(term: str) -> str:
        return graph.op("Mul", ln_age, term, hint="age_interaction")

    terms = {
        "ln_age": ln_age,
        "ln_age_squared": times_ln_age(ln_age),
        "ln_total_cholesterol": ln_tc,
        "ln_age_x_ln_total_cholesterol": times_ln_age(ln_tc),
        "ln_hdl": ln_hdl,
        "ln_age_x_ln_hdl": times_ln_age(ln_hdl),
        "ln_treated_sbp": ln_treated_sbp,
        "ln_age_x_ln_treated_sbp": times_ln_age(ln_treated_sbp),
        "ln_untreated_sbp": ln_untreated_sbp,
        "ln_age_x_ln_untreated_sbp": times_ln_age(ln_untreated_sbp),
        "current_smoker": smoker,
        "ln_age_x_current_smoker": times_ln_age(smoker),
        "diabetes": diabetes,
    }
    assert list(terms) == list(COEFFICIENTS)
    design = graph.stack(list(terms.values()), hint="terms")
    # One row per sex/race group: (4, terms) @ (terms, batch) -> (4, batch).
    coefficients = graph.const(np.array(list(COEFFICIENTS.values())).T)
    individual_sums = graph.op("MatMul", coefficients, design, hint="individual_sum")
    mean_sum = graph.const(np.array(MEAN_SUM)[:, None])
    relative = graph.op("Exp", graph.op("Sub", individual_sums, mean_sum), hint="relative_hazard")
    survival = graph.op(
        "Pow", graph.const(np.array(BASELINE_SURVIVAL)[:, None]), relative, hint="survival_10y"
    )
    risks = graph.op("Sub", graph.const(1.0), survival, hint="risk_by_group")
    by_group = dict(zip(GROUPS, graph.rows(risks, GROUPS), strict=True))
    is_black = graph.flag(black)
    female_risk = graph.op("Where", is_black, by_group["african_american_female"], by_group["white_female"])
    male_risk = graph.op("Where", is_black, by_group["african_american_male"], by_group["white_male"])
    risk = graph.op("Where", graph.flag(male), male_risk, female_risk, hint="risk")
    graph.output(graph.poisoned_by_non_finite_input(risk), "risk_10y")
    model = graph.build(
        graph_name="ascvd_pce",
        doc="10-year hard ASCVD risk, 2013 ACC/AHA Pooled Cohort Equations (Goff et al., Circulation 2014).",
        metadata={
            "model_id": MODEL_ID,
            "version": VERSION,
            "source": "Goff et al. Circulation 2014;129(25 Suppl 2):S49-S73, Table A",
        },
    )
    return serialize(model)


def reference_model(synthea_dir: Path) -> ReferenceModel:
    snapshots = lipid_visit_snapshots(synthea_dir, min_age=40, max_age=79)
    rows = [
        {
            "age_years": float(s.age_years),
            "sex_male": float(s.male),
            "race_black": float(s.black),
            "total_cholesterol": s.total_cholesterol,
            "hdl_cholesterol": s.hdl_cholesterol,
            "systolic_bp": s.systolic_bp,
            "on_bp_treatment": float(s.on_bp_treatment),
            "current_smoker": float(s.current_smoker),
            "diabetes": float(s.diabetes),
        }
        for s in snapshots
    ]
    population = common.population_from(
        rows,
        measured=("age_years", "total_cholesterol", "hdl_cholesterol", "systolic_bp"),
        flags=("sex_male", "race_black", "on_bp_treatment", "current_smoker", "diabetes"),
        patients=len({s.patient for s in snapshots}),
        description=(
            "Synthetic adults aged 40-79 at a visit with a lipid panel (the model's intended age range)."
        ),
        source=SOURCE,
        method=METHOD,
        distributions_of=distributions,
    )
    return ReferenceModel(
        id=MODEL_ID,
        version=VERSION,
        name="10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations)",
        summary=(
            "Estimates the 10-year risk of a first hard atherosclerotic cardiovascular disease event "
            "(nonfatal MI, CHD death, fatal or nonfatal stroke) for adults aged 40-79 without ASCVD, using "
            "the sex- and race-specific 2013 ACC/AHA Pooled Cohort Equations."
        ),
        release_date=common.RELEASE_DATE,
        model_type="equation",
        output_type="prediction",
        keywords=("cardiovascular risk", "ASCVD", "primary prevention", "statin", "Pooled Cohort Equations"),
        inputs=INPUTS,
        outputs=OUTPUTS,
        thresholds=THRESHOLDS,
        self_tests=SELF_TESTS,
        model_bytes=build_graph(),
        converter=common.onnx_helper_converter(),
        libraries=common.library_versions(),
        build=common.equation_build_info(__name__),
        population=population,
        performance={
            "verification": (
                "The ONNX graph reproduces the published vectors in tests/unit/models (Goff 2014 supplement "
                "55-year-old examples for all four groups within 0.1 percentage point of the paper, the "
                "PooledCohort vectors for treated BP, smoking and diabetes, and the 20.8% vector)."
            ),
            "published_validation": "See source attributes 7.i-7.iv; not re-estimated by this project.",
        },
        narrative={
            **NARRATIVE,
            "4.iii": NARRATIVE["4.iii"].format(sample=common.describe_sample(snapshots, ages="40-79")),
        },
        key_metrics=KEY_METRICS,
        references=REFERENCES,
        bibtex=BIBTEX,
    )
