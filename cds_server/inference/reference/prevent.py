"""prevent: AHA PREVENT base 10-year risk of total CVD, ASCVD and heart failure, one ONNX graph.

Source: Khan SS et al., Development and Validation of the American Heart Association's PREVENT
Equations, Circulation 2024;149:430-449, supplemental Table S12 (worked example). Coefficients:
the 10-year "base" model of bcjaeger/PooledCohort data-raw/coefs_prevent.xlsx, transforms as in
its R/prevent.R; shared/reference/ml-serving-and-governance.md §B4.2 lists them.

risk = sigmoid(const + sum(coef * term)); cholesterol converted mg/dL -> mmol/L by x 0.02586, and
the women's or men's equation selected with ``Where`` on ``sex_female``. The equations are
race-free by design.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cds_server.inference.reference import common
from cds_server.inference.reference.onnx_graph import DOUBLE
from cds_server.inference.reference.onnx_graph import GraphBuilder
from cds_server.inference.reference.onnx_graph import serialize
from cds_server.inference.reference.prevent_text import BIBTEX
from cds_server.inference.reference.prevent_text import KEY_METRICS
from cds_server.inference.reference.prevent_text import NARRATIVE
from cds_server.inference.reference.prevent_text import REFERENCES
from cds_server.inference.reference.spec import InputDefinition
from cds_server.inference.reference.spec import OutputDefinition
from cds_server.inference.reference.spec import ReferenceModel
from cds_server.inference.reference.spec import SelfTestDefinition
from cds_server.inference.reference.synthea import METHOD
from cds_server.inference.reference.synthea import SOURCE
from cds_server.inference.reference.synthea import distributions
from cds_server.inference.reference.synthea import lipid_visit_snapshots

MODEL_ID = "prevent"
VERSION = "1.0.0"
MG_DL_TO_MMOL_L = 0.02586

#: Columns of :data:`COEFFICIENTS`, in the order of the model outputs (women, men per outcome).
EQUATIONS = ("women_cvd", "men_cvd", "women_ascvd", "men_ascvd", "women_hf", "men_hf")

#: term -> coefficient per equation (EQUATIONS order); PooledCohort coefs_prevent.xlsx "base_10".
COEFFICIENTS: dict[str, tuple[float, float, float, float, float, float]] = {
    "const": (-3.307728, -3.031168, -3.819975, -3.500655, -4.310409, -3.946391),
    "age_per_10_years": (0.7939329, 0.7688528, 0.719883, 0.7099847, 0.8998235, 0.8972642),
    "non_hdl_c_per_1_mmol_l": (0.0305239, 0.0736174, 0.1176967, 0.1658663, 0.0, 0.0),
    "hdl_c_per_0.3_mmol_l": (-0.1606857, -0.0954431, -0.151185, -0.1144285, 0.0, 0.0),
    "sbp_lt110_per_20_mmhg": (-0.2394003, -0.4347345, -0.0835358, -0.2837212, -0.4559771, -0.6811466),
    "sbp_gteq110_per_20_mmhg": (0.3600781, 0.3362658, 0.3592852, 0.3239977, 0.3576505, 0.3634461),
    "diabetes": (0.8667604, 0.7692857, 0.8348585, 0.7189597, 1.038346, 0.923776),
    "current_smoking": (0.5360739, 0.4386871, 0.4831078, 0.3956973, 0.583916, 0.5023736),
    "bmi_lt30_per_5_kg_m2": (0.0, 0.0, 0.0, 0.0, -0.0072294, -0.0485841),
    "bmi_gt30_per_5_kg_m2": (0.0, 0.0, 0.0, 0.0, 0.2997706, 0.3726929),
    "egfr_lt60_per_15_ml": (0.6045917, 0.5378979, 0.4864619, 0.3690075, 0.7451638, 0.6926917),
    "egfr_gteq60_per_15_ml": (0.0433769, 0.0164827, 0.0397779, 0.0203619, 0.0557087, 0.0251827),
    "anti_hypertensive_use": (0.3151672, 0.288879, 0.2265309, 0.2036522, 0.3534442, 0.2980922),
    "statin_use": (-0.1477655, -0.1337349, -0.0592374, -0.0865581, 0.0, 0.0),
    "treated_sbp_gteq110_mm_hg_per_20_mm_hg": (
        -0.0663612,
        -0.0475924,
        -0.0395762,
        -0.0322916,
        -0.0981511,
        -0.0497731,
    ),
    "treated_non_hdl_c": (0.1197879, 0.150273, 0.0844423, 0.114563, 0.0, 0.0),
    "age_per_10yr_x_non_hdl_c_per_1_mmol_l": (-0.0819715, -0.0517874, -0.0567839, -0.0300005, 0.0, 0.0),
    "age_per_10yr_x_hdl_c_per_0.3_mml_l": (0.0306769, 0.0191169, 0.0325692, 0.0232747, 0.0, 0.0),
    "age_per_10yr_x_sbp_gteq110_mm_hg_per_20_mmhg": (
        -0.0946348,
        -0.1049477,
        -0.1035985,
        -0.0927024,
        -0.0946663,
        -0.1289201,
    ),
    "age_per_10yr_x_diabetes": (-0.27057, -0.2251948, -0.2417542, -0.2018525, -0.3581041, -0.3040924),
    "age_per_10yr_x_current_smoking": (-0.078715, -0.0895067, -0.0791142, -0.0970527, -0.1159453, -0.1401688),
    "age_per_10yr_x_bmi_gteq30_per_5_kg_m2": (0.0, 0.0, 0.0, 0.0, -0.003878, 0.0068126),
    "age_per_10yr_x_egfr_lt60_per_15_ml": (
        -0.1637806,
        -0.1543702,
        -0.1671492,
        -0.1217081,
        -0.1884289,
        -0.1797778,
    ),
}

_BINARY = (0.0, 1.0)
_LIMITS_SOURCE = "bcjaeger/PooledCohort R/prevent.R input checks"
INPUTS = (
    InputDefinition(
        "age_years",
        "Age in completed years at the time of the request.",
        "a",
        "Patient.birthDate, age in completed years at the reference time",
        applicable_range=(30, 79, "the PREVENT equations were developed for adults aged 30 to 79"),
    ),
    InputDefinition(
        "sex_female",
        "1 = female, 0 = male (selects the sex-specific equation).",
        "1",
        "Patient.gender (female -> 1, male -> 0); other or unknown gender has no equation",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "total_cholesterol",
        "Total cholesterol.",
        "mg/dL",
        "Observation LOINC 2093-3 (or 14647-2 in mmol/L, converted), most recent",
        applicable_range=(130, 320, f"PREVENT accepts total cholesterol of 130-320 mg/dL ({_LIMITS_SOURCE})"),
    ),
    InputDefinition(
        "hdl_cholesterol",
        "HDL cholesterol.",
        "mg/dL",
        "Observation LOINC 2085-9 (or 14646-4 in mmol/L, converted), most recent",
        applicable_range=(20, 100, f"PREVENT accepts HDL cholesterol of 20-100 mg/dL ({_LIMITS_SOURCE})"),
    ),
    InputDefinition(
        "systolic_bp",
        "Systolic blood pressure.",
        "mm[Hg]",
        "Observation LOINC 8480-6 (also as a component of BP panels 85354-9 / 55284-4), most recent",
        applicable_range=(
            90,
            200,
            f"PREVENT accepts systolic blood pressure of 90-200 mmHg ({_LIMITS_SOURCE})",
        ),
    ),
    InputDefinition(
        "on_bp_treatment",
        "1 = taking antihypertensive medication, else 0.",
        "1",
        "active MedicationRequest/MedicationStatement for an antihypertensive (value set)",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "on_statin",
        "1 = taking a statin, else 0.",
        "1",
        "active MedicationRequest/MedicationStatement for a statin (RxNorm value set)",
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
    InputDefinition(
        "current_smoker",
        "1 = current smoker, else 0.",
        "1",
        "Observation LOINC 72166-2 with a current-smoker SNOMED CT value, most recent",
        allowed_values=_BINARY,
    ),
    InputDefinition(
        "egfr",
        "Estimated glomerular filtration rate (CKD-EPI 2021, race-free).",
        "mL/min/{1.73_m2}",
        "Observation LOINC 98979-8 (or computed from creatinine 2160-0 with CKD-EPI 2021), most recent",
        applicable_range=(15, 140, f"PREVENT accepts eGFR of 15-140 mL/min/1.73 m2 ({_LIMITS_SOURCE})"),
    ),
    InputDefinition(
        "bmi",
        "Body mass index. Used only by hf_10y; cvd_10y and ascvd_10y do not depend on it.",
        "kg/m2",
        "Observation LOINC 39156-5, most recent",
        applicable_range=(18.5, 40, f"PREVENT accepts BMI of 18.5-40 kg/m2 ({_LIMITS_SOURCE})"),
    ),
)

_OUTCOMES = {
    "cvd_10y": "total cardiovascular disease (ASCVD or heart failure)",
    "ascvd_10y": "atherosclerotic cardiovascular disease (coronary heart disease or stroke)",
    "hf_10y": "heart failure",
}
OUTPUTS = tuple(
    OutputDefinition(name, f"Estimated probability of {outcome} within 10 years.", "1", "float64", (0.0, 1.0))
    for name, outcome in _OUTCOMES.items()
)


def table_s12_example(*, female: int) -> dict[str, float]:
    """Khan 2024 Table S12: 50 y, TC 200, HDL 45, SBP 160 treated, diabetes, non-smoker, BMI 35, eGFR 90."""
    return {
        "age_years": 50.0,
        "sex_female": float(female),
        "total_cholesterol": 200.0,
        "hdl_cholesterol": 45.0,
        "systolic_bp": 160.0,
        "on_bp_treatment": 1.0,
        "on_statin": 0.0,
        "diabetes": 1.0,
        "current_smoker": 0.0,
        "egfr": 90.0,
        "bmi": 35.0,
    }


_S12 = (
    "Khan et al. 2024 supplemental Table S12, as encoded in bcjaeger/PooledCohort "
    "tests/testthat/test-predict_10yr_*_risk.R"
)
SELF_TESTS = (
    SelfTestDefinition(
        "Table S12 example, woman",
        _S12,
        table_s12_example(female=1),
        {"cvd_10y": 0.1468, "ascvd_10y": 0.0920, "hf_10y": 0.0806},
        0.00005,
    ),
    SelfTestDefinition(
        "Table S12 example, man",
        _S12,
        table_s12_example(female=0),
        {"cvd_10y": 0.1632, "ascvd_10y": 0.1019, "hf_10y": 0.1059},
        0.00005,
    ),
)


def build_graph() -> bytes:
    graph = GraphBuilder(width=len(INPUTS), compute_type=DOUBLE)
    age, female, tc, hdl, sbp, bp_treated, statin, diabetes, smoker, egfr, bmi = graph.rows(
        graph.feature_rows, [spec.name for spec in INPUTS]
    )

    def affine(value: str, offset: float, scale: float, hint: str) -> str:
        """(value - offset) / scale"""
        return graph.op("Div", graph.op("Sub", value, graph.const(offset)), graph.const(scale), hint=hint)

    def clamp_low(value: str, knot: float) -> str:
        return graph.op("Min", value, graph.const(knot))

    def clamp_high(value: str, knot: float) -> str:
        return graph.op("Max", value, graph.const(knot))

    age_10 = affine(age, 55.0, 10.0, "age_per_10_years")
    non_hdl_mmol = graph.op("Mul", graph.op("Sub", tc, hdl), graph.const(MG_DL_TO_MMOL_L))
    non_hdl = graph.op("Sub", non_hdl_mmol, graph.const(3.5), hint="non_hdl_c")
    hdl_03 = affine(graph.op("Mul", hdl, graph.const(MG_DL_TO_MMOL_L)), 1.3, 0.3, "hdl_c_per_0_3")
    sbp_low = affine(clamp_low(sbp, 110.0), 110.0, 20.0, "sbp_lt110")
    sbp_high = affine(clamp_high(sbp, 110.0), 130.0, 20.0, "sbp_gteq110")
    bmi_low = affine(clamp_low(bmi, 30.0), 25.0, 5.0, "bmi_lt30")
    bmi_high = affine(clamp_high(bmi, 30.0), 30.0, 5.0, "bmi_gt30")
    egfr_low = affine(clamp_low(egfr, 60.0), 60.0, -15.0, "egfr_lt60")
    egfr_high = affine(clamp_high(egfr, 60.0), 90.0, -15.0, "egfr_gteq60")

    def times_age(term: str) -> str:
        return graph.op("Mul", age_10, term, hint="age_interaction")

    terms = {
        "age_per_10_years": age_10,
        "non_hdl_c_per_1_mmol_l": non_hdl,
        "hdl_c_per_0.3_mmol_l": hdl_03,
        "sbp_lt110_per_20_mmhg": sbp_low,
        "sbp_gteq110_per_20_mmhg": sbp_high,
        "diabetes": diabetes,
        "current_smoking": smoker,
        "bmi_lt30_per_5_kg_m2": bmi_low,
        "bmi_gt30_per_5_kg_m2": bmi_high,
        "egfr_lt60_per_15_ml": egfr_low,
        "egfr_gteq60_per_15_ml": egfr_high,
        "anti_hypertensive_use": bp_treated,
        "statin_use": statin,
        "treated_sbp_gteq110_mm_hg_per_20_mm_hg": graph.op("Mul", sbp_high, bp_treated),
        "treated_non_hdl_c": graph.op("Mul", non_hdl, statin),
        "age_per_10yr_x_non_hdl_c_per_1_mmol_l": times_age(non_hdl),
        "age_per_10yr_x_hdl_c_per_0.3_mml_l": times_age(hdl_03),
        "age_per_10yr_x_sbp_gteq110_mm_hg_per_20_mmhg": times_age(sbp_high),
        "age_per_10yr_x_diabetes": times_age(diabetes),
        "age_per_10yr_x_current_smoking": times_age(smoker),
        "age_per_10yr_x_bmi_gteq30_per_5_kg_m2": times_age(bmi_high),
        "age_per_10yr_x_egfr_lt60_per_15_ml": times_age(egfr_low),
    }
    assert ["const", *terms] == list(COEFFICIENTS)
    design = graph.stack(list(terms.values()), hint="terms")
    # One row per equation: (6, terms) @ (terms, batch) + (6, 1) -> (6, batch) log-odds.
    slopes = graph.const(np.array([COEFFICIENTS[term] for term in terms]).T)
    intercepts = graph.const(np.array(COEFFICIENTS["const"])[:, None])
    log_odds = graph.op("Add", graph.op("MatMul", slopes, design), intercepts, hint="log_odds")
    risks = graph.rows(graph.op("Sigmoid", log_odds, hint="risk_by_equation"), EQUATIONS)
    is_female = graph.flag(female)
    for index, output in enumerate(OUTPUTS):
        women, men = risks[2 * index], risks[2 * index + 1]
        risk = graph.op("Where", is_female, women, men, hint=output.name)
        graph.output(graph.poisoned_by_non_finite_input(risk), output.name)
    model = graph.build(
        graph_name="prevent_base_10y",
        doc=(
            "AHA PREVENT base 10-year total CVD, ASCVD and heart-failure risk (Khan et al., Circulation "
            "2024)."
        ),
        metadata={
            "model_id": MODEL_ID,
            "version": VERSION,
            "source": "Khan et al. Circulation 2024;149:430-449",
        },
    )
    return serialize(model)


def reference_model(synthea_dir: Path) -> ReferenceModel:
    snapshots = lipid_visit_snapshots(synthea_dir, min_age=30, max_age=79)
    rows = [
        {
            "age_years": float(s.age_years),
            "sex_female": float(1 - s.male),
            "total_cholesterol": s.total_cholesterol,
            "hdl_cholesterol": s.hdl_cholesterol,
            "systolic_bp": s.systolic_bp,
            "on_bp_treatment": float(s.on_bp_treatment),
            "on_statin": float(s.on_statin),
            "diabetes": float(s.diabetes),
            "current_smoker": float(s.current_smoker),
            "egfr": s.egfr,
            "bmi": s.bmi,
        }
        for s in snapshots
    ]
    population = common.population_from(
        rows,
        measured=("age_years", "total_cholesterol", "hdl_cholesterol", "systolic_bp", "egfr", "bmi"),
        flags=("sex_female", "on_bp_treatment", "on_statin", "diabetes", "current_smoker"),
        patients=len({s.patient for s in snapshots}),
        description=(
            "Synthetic adults aged 30-79 at a visit with a lipid panel (the model's intended age range)."
        ),
        source=SOURCE,
        method=METHOD + " eGFR is Synthea's 33914-3 (MDRD-era code), the only eGFR in the sample.",
        distributions_of=distributions,
    )
    return ReferenceModel(
        id=MODEL_ID,
        version=VERSION,
        name="AHA PREVENT 10-year CVD, ASCVD and heart-failure risk (base model)",
        summary=(
            "Estimates 10-year risks of total cardiovascular disease, atherosclerotic cardiovascular "
            "disease and heart failure for adults aged 30-79 without known CVD, with the race-free AHA "
            "PREVENT base equations (Khan et al. 2024)."
        ),
        release_date=common.RELEASE_DATE,
        model_type="equation",
        output_type="prediction",
        keywords=(
            "cardiovascular risk",
            "PREVENT",
            "heart failure",
            "ASCVD",
            "primary prevention",
            "cardiovascular-kidney-metabolic",
        ),
        inputs=INPUTS,
        outputs=OUTPUTS,
        thresholds=(),
        self_tests=SELF_TESTS,
        model_bytes=build_graph(),
        converter=common.onnx_helper_converter(),
        libraries=common.library_versions(),
        build=common.equation_build_info(__name__),
        population=population,
        performance={
            "verification": (
                "The ONNX graph reproduces Khan 2024 Table S12 (base 10-year model) to 4 decimals: women "
                "CVD 0.1468, ASCVD 0.0920, HF 0.0806; men CVD 0.1632, ASCVD 0.1019, HF 0.1059 "
                "(tests/unit/models)."
            ),
            "published_validation": "See source attributes 7.i-7.iv; not re-estimated by this project.",
        },
        narrative={
            **NARRATIVE,
            "4.iii": NARRATIVE["4.iii"].format(sample=common.describe_sample(snapshots, ages="30-79")),
        },
        key_metrics=KEY_METRICS,
        references=REFERENCES,
        bibtex=BIBTEX,
    )
