"""Card prose of prevent: references, HTI-1 narrative and CHAI key metrics (see prevent.py for the maths)."""

from __future__ import annotations

from cds_server.inference.reference.spec import KeyMetric

REFERENCES = (
    "Khan SS, Matsushita K, Sang Y, et al. Development and Validation of the American Heart Association's "
    "PREVENT Equations. Circulation. 2024;149(6):430-449 (equations; supplemental Table S12 worked "
    "example).",
    "bcjaeger/PooledCohort: data-raw/coefs_prevent.xlsx (coefficients), R/prevent.R (transforms, input "
    "ranges) and tests/testthat/test-predict_10yr_{cvd,ascvd,hf}_risk.R (Table S12 vectors).",
)

BIBTEX = """@article{khan2024prevent,
  author = {Khan, Sadiya S. and Matsushita, Kunihiro and Sang, Yingying and others},
  title = {Development and Validation of the {American Heart Association}'s {PREVENT} Equations},
  journal = {Circulation},
  volume = {149},
  number = {6},
  pages = {430--449},
  year = {2024}
}"""

NARRATIVE: dict[str, str] = {
    "1.iii": (
        "cvd_10y, ascvd_10y and hf_10y: estimated probabilities (0-1) of total cardiovascular disease, "
        "atherosclerotic cardiovascular disease and heart failure within 10 years. No score is given "
        "outside the applicability limits (age 30-79 and the input ranges in this card); the reasons are "
        "returned instead."
    ),
    "1.iv": "Prediction: probabilities from published logistic equations (no learning by this project).",
    "2.i": (
        "Primary-prevention risk assessment across cardiovascular-kidney-metabolic health: estimate 10-year "
        "CVD, ASCVD and heart-failure risk when a chart is opened, to inform prevention discussions (blood "
        "pressure, lipids, weight, kidney and glucose management)."
    ),
    "2.ii": "Adults aged 30-79 without known cardiovascular disease (no prior ASCVD or heart failure).",
    "2.iii": "Licensed clinicians in primary care, cardiology, nephrology and endocrinology.",
    "2.iv": (
        "Informs: supports a shared decision; it does not replace clinical judgement or mandate treatment."
    ),
    "3.i": (
        "Do not use for people with established ASCVD or heart failure, under 30 or over 79 (no score is "
        "given), in pregnancy, with eGFR below 15 or on dialysis, or for acute care. This is the base "
        "model: it does not use urine albumin-creatinine ratio, HbA1c or the social deprivation index, "
        "which the full PREVENT model adds."
    ),
    "3.ii": (
        "PREVENT estimates are lower on average than Pooled Cohort Equations estimates for the same person; "
        "treatment thresholds defined for the PCE (e.g. 7.5% 10-year ASCVD risk) must not be applied to "
        "PREVENT outputs without guideline support, so this card defines no thresholds. BMI enters only the "
        "heart-failure equation. Stale or mis-coded laboratory values and missing treatment data give wrong "
        "estimates; the card shows every input with its date for review."
    ),
    "4.i": (
        "Derivation and validation (Khan et al. 2024): pooled US data from many cohort studies and "
        "electronic-health-record data sets, adults aged 30-79 without known cardiovascular disease at "
        "baseline; see the publication for the data sets, counts and exclusions."
    ),
    "4.ii": (
        "Uses sex (selecting the equation) and date of birth (age). Does not use race or ethnicity "
        "(race-free by design), language, sexual orientation, gender identity, social determinants of "
        "health (the social deprivation index is only in the full model, not this base model) or health "
        "status assessments."
    ),
    "4.iii": (
        "The derivation data were large and racially and ethnically diverse US adults (see Khan et al. "
        "2024). The reference distribution in this card (for drift monitoring) comes from a small synthetic "
        "sample: {sample} - not representative of any real population."
    ),
    "4.iv": (
        "Contemporary US data, relevant to US primary-care deployment; calibration in a given health system "
        "must still be checked locally (attribute 8.ii)."
    ),
    "5.ii": (
        "The published equations omit race and include kidney function and metabolic measures; this project "
        "does not re-fit them. Applicability limits refuse extrapolation, and monitoring is stratified by "
        "race, ethnicity, sex, age band and language (8.iii)."
    ),
    "6.i": (
        "Not assessed by cds-server. Khan et al. 2024 report external validation in data sets not used for "
        "derivation; see the publication."
    ),
    "6.iii": "As reported by Khan et al. 2024; not re-analysed by this project.",
    "6.iv": (
        "None by this project. The implementation is verified rather than validated: its ONNX graph must "
        "reproduce Table S12 to 4 decimals (tests and start-up self-tests)."
    ),
    "7.i": (
        "Published by Khan et al. 2024 (discrimination and calibration in the derivation/validation data); "
        "not re-estimated here."
    ),
    "7.ii": (
        "Published by Khan et al. 2024 across sex, age and racial and ethnic subgroups; not re-estimated "
        "here."
    ),
    "7.iii": "Published by Khan et al. 2024 for the external validation data; not re-estimated here.",
    "7.iv": "Published by Khan et al. 2024 for the external validation data; not re-estimated here.",
    "7.v": "No evaluation of the effect of PREVENT-guided care on outcomes is known to this project.",
    "how_to_use": (
        "Fires on patient-view for adults 30-79. Read the three risks with the inputs shown on the card; "
        "confirm that the laboratory values are recent and that treatment, statin and smoking status are "
        "right. Do not apply PCE treatment thresholds to PREVENT outputs."
    ),
    "known_biases": (
        "Race-free by design; sex-specific equations. Derived in US data; performance elsewhere is unknown."
    ),
    "clinical_risk_level": "Moderate: informs preventive therapy decisions; not time-critical.",
    "model_type_description": (
        "Sex-specific logistic equations (published coefficients), evaluated as an ONNX graph."
    ),
    "input_data_source": (
        "The patient's EHR record via CDS Hooks prefetch/FHIR: Patient, Observation (lipids, BP, eGFR, BMI, "
        "smoking), Condition, MedicationRequest."
    ),
    "data_types": (
        "Inputs: 11 numbers (age, 0/1 flags, mg/dL, mmHg, mL/min/1.73 m2, kg/m2), float32. Outputs: three "
        "probabilities, float64."
    ),
}

KEY_METRICS = {
    "UsefulnessUsabilityEfficacy": KeyMetric(
        goal="Reproduce the published equations exactly.",
        results=(
            ("Table S12 women (CVD, ASCVD, HF)", '{"expected": [0.1468, 0.0920, 0.0806], "decimals": 4}'),
            ("Table S12 men (CVD, ASCVD, HF)", '{"expected": [0.1632, 0.1019, 0.1059], "decimals": 4}'),
        ),
        interpretation="All vectors reproduce through the ONNX file in CI and at every model load.",
        test_type="Verification against published vectors",
        testing_data="Published worked example; no patient data.",
        validation_process="pytest tests/unit/models run the committed model.onnx through onnxruntime.",
    ),
    "FairnessEquity": KeyMetric(
        goal="Report subgroup calibration and discrimination in local data.",
        results=(),
        interpretation="Not yet measured locally; published subgroup performance in Khan et al. 2024.",
        test_type="Planned local shadow-mode evaluation",
        testing_data="Local EHR data of the deploying site.",
        validation_process="See source attributes 8.iii-8.iv.",
    ),
    "SafetyReliability": KeyMetric(
        goal="Never show a score that is non-finite or outside the validated input ranges.",
        results=(("Applicability and non-finite checks", '{"enforced": true}'),),
        interpretation=(
            "Out-of-range inputs return reasons instead of a score; NaN inputs propagate to NaN and are "
            "refused."
        ),
        test_type="Unit tests",
        testing_data="Synthetic boundary cases.",
        validation_process="tests/unit/models and tests/unit/inference.",
    ),
}
