"""Card prose of ascvd-pce: references, HTI-1 narrative and CHAI key metrics (see pce.py for the maths)."""

from __future__ import annotations

from cds_server.inference.reference.spec import KeyMetric

CHOLESTEROL_GUIDELINE_2018 = (
    "Grundy SM et al. 2018 AHA/ACC Guideline on the Management of Blood Cholesterol. Circulation "
    "2019;139:e1082-e1143 (10-year ASCVD risk categories)"
)

REFERENCES = (
    "Goff DC Jr, Lloyd-Jones DM, Bennett G, et al. 2013 ACC/AHA Guideline on the Assessment of "
    "Cardiovascular Risk. Circulation. 2014;129(25 Suppl 2):S49-S73 (equations, Table A; worked examples).",
    CHOLESTEROL_GUIDELINE_2018 + ".",
    "Cerner ascvd-risk-calculator, app/load_fhir_data.js, and bcjaeger/PooledCohort, R/pcr.R and "
    "tests/testthat/test-predict_10yr_ascvd_risk.R (precise coefficients and test vectors).",
    "Yadlowsky S, Hayward RA, Sussman JB, et al. Clinical Implications of Revised Pooled Cohort Equations "
    "for Estimating Atherosclerotic Cardiovascular Disease Risk. Ann Intern Med. 2018;169(1):20-29.",
)

BIBTEX = """@article{goff2014pce,
  author = {Goff, David C. and Lloyd-Jones, Donald M. and Bennett, Glen and others},
  title = {2013 {ACC/AHA} Guideline on the Assessment of Cardiovascular Risk},
  journal = {Circulation},
  volume = {129},
  number = {25 Suppl 2},
  pages = {S49--S73},
  year = {2014}
}
@article{yadlowsky2018revised,
  author = {Yadlowsky, Steve and Hayward, Rodney A. and Sussman, Jeremy B. and others},
  title = {Clinical Implications of Revised Pooled Cohort Equations for Estimating
           Atherosclerotic Cardiovascular Disease Risk},
  journal = {Annals of Internal Medicine},
  volume = {169},
  number = {1},
  pages = {20--29},
  year = {2018}
}"""

NARRATIVE: dict[str, str] = {
    "1.iii": (
        "risk_10y: the estimated probability (0-1) of a first hard ASCVD event - nonfatal myocardial "
        "infarction, coronary heart disease death, or fatal or nonfatal stroke - within 10 years. No score "
        "is given outside the applicability limits (age 40-79, total cholesterol 130-320 mg/dL, HDL 20-100 "
        "mg/dL, systolic BP 90-200 mmHg); the reasons are returned instead."
    ),
    "1.iv": (
        "Prediction: a probability from a published proportional-hazards equation (no learning by this "
        "project)."
    ),
    "2.i": (
        "Primary-prevention risk assessment: when a chart is opened (CDS Hooks patient-view), estimate "
        "10-year ASCVD risk to inform the clinician-patient discussion about statin therapy and other "
        "preventive measures, as recommended by the 2013 ACC/AHA risk assessment guideline and the 2018 "
        "AHA/ACC cholesterol guideline."
    ),
    "2.ii": (
        "Adults aged 40-79 without clinical ASCVD (no prior myocardial infarction, stroke, coronary or "
        "peripheral revascularisation), with LDL cholesterol below 190 mg/dL, not already taking a statin."
    ),
    "2.iii": (
        "Licensed clinicians in primary care and cardiology (physicians, nurse practitioners, physician "
        "assistants)."
    ),
    "2.iv": (
        "Informs: the estimate supports a shared decision; it does not replace clinical judgement or "
        "mandate treatment."
    ),
    "3.i": (
        "Do not use for secondary prevention (established ASCVD), for LDL cholesterol >= 190 mg/dL or "
        "familial hypercholesterolaemia, under age 40 or over 79 (no score is given), for people on statin "
        "therapy (the estimate is for untreated risk), in pregnancy, or for acute care decisions. Interpret "
        "with care for people of Asian, Hispanic/Latino or other backgrounds (scored with the White "
        "equations), with chronic kidney disease, HIV, chronic inflammatory disease or other risk enhancers "
        "the equations do not include."
    ),
    "3.ii": (
        "The equations overestimate risk in several contemporary US populations (Yadlowsky et al. 2018) and "
        "can misestimate risk in groups under-represented in the derivation cohorts. They use race as an "
        "input, a practice now questioned; the AHA PREVENT equations (model 'prevent') are race-free. "
        "Values recorded in the wrong unit, missing treatment or smoking data, and stale laboratory results "
        "lead to wrong estimates; the card shows every input with its date for review."
    ),
    "4.i": (
        "Derivation (Goff et al. 2014): pooled community cohorts ARIC, CHS, CARDIA and the Framingham "
        "Original and Offspring studies; participants aged 40-79, non-Hispanic White or African American, "
        "free at baseline of myocardial infarction, stroke, heart failure, coronary revascularisation and "
        "atrial fibrillation: 11,240 White women, 9,098 White men, 2,641 African-American women and 1,647 "
        "African-American men."
    ),
    "4.ii": (
        "Uses race (Black vs. all others, selecting the equation), sex (selecting the equation) and date of "
        "birth (age). Does not use ethnicity, language, sexual orientation, gender identity, social "
        "determinants of health or health status assessments."
    ),
    "4.iii": (
        "Derivation data represent White and African-American US adults aged 40-79, women and men; other "
        "racial and ethnic groups were not represented. The reference distribution in this card (for drift "
        "monitoring) comes from a small synthetic sample: {sample} - not representative of any real "
        "population."
    ),
    "4.iv": (
        "The cohorts enrolled between the 1960s and 1990s in US communities; the deployed setting is "
        "contemporary US primary care, where lower event rates and wider statin use make the equations tend "
        "to overestimate risk. Local calibration checks are needed (attribute 8.ii)."
    ),
    "5.ii": (
        "Sex- and race-specific equations were the guideline panel's approach to calibration differences "
        "between groups; this project does not re-fit them. Applicability limits refuse extrapolation, and "
        "monitoring is stratified by race, ethnicity, sex, age band and language (8.iii). Sites should "
        "consider the race-free PREVENT equations alongside."
    ),
    "6.i": (
        "Not assessed by cds-server. The guideline Work Group reported external validation in other cohorts "
        "(Goff et al. 2014), and many independent validations have been published since, e.g. Yadlowsky et "
        "al. 2018."
    ),
    "6.iii": "As reported by those studies; not re-analysed by this project.",
    "6.iv": (
        "None by this project. The implementation is verified rather than validated: its ONNX graph must "
        "reproduce the published worked examples (tests and start-up self-tests)."
    ),
    "7.i": "Published by Goff et al. 2014 for the derivation cohorts; not re-estimated by this project.",
    "7.ii": "Published by Goff et al. 2014 per sex/race group; not re-estimated by this project.",
    "7.iii": "See the external validations cited in 6.i; not re-estimated by this project.",
    "7.iv": "See the external validations cited in 6.i; not re-estimated by this project.",
    "7.v": (
        "No evaluation of this implementation's effect on outcomes exists. Statin therapy guided by 10-year "
        "risk is the basis of the 2018 AHA/ACC cholesterol guideline (Grundy et al. 2019)."
    ),
    "how_to_use": (
        "Fires on patient-view for adults 40-79. Read risk_10y with the 2018 guideline categories "
        "(thresholds in this card) and the inputs shown on the card; check that the laboratory values are "
        "recent and that treatment and smoking status are right before discussing therapy."
    ),
    "known_biases": (
        "Race is an input (Black vs. all others); the equations were derived only in White and "
        "African-American adults and may misestimate risk for others."
    ),
    "clinical_risk_level": "Moderate: informs preventive therapy decisions; not time-critical.",
    "model_type_description": (
        "Sex- and race-specific Cox proportional-hazards equations (published coefficients), evaluated as "
        "an ONNX graph."
    ),
    "input_data_source": (
        "The patient's EHR record via CDS Hooks prefetch/FHIR: Patient, Observation (lipids, BP, smoking), "
        "Condition, MedicationRequest."
    ),
    "data_types": (
        "Inputs: 9 numbers (age, 0/1 flags, mg/dL, mmHg), float32. Output: one probability, float64."
    ),
}

KEY_METRICS = {
    "UsefulnessUsabilityEfficacy": KeyMetric(
        goal="Reproduce the published equations exactly.",
        results=(
            (
                "Goff 2014 55-year-old examples (WF, AAF, WM, AAM), % risk",
                '{"expected": [2.1, 3.0, 5.3, 6.1], "tolerance_pp": 0.1}',
            ),
            ("Additional vector, white man 54 y, smoker, diabetic", '{"expected_percent": 20.8}'),
        ),
        interpretation="All vectors reproduce through the ONNX file in CI and at every model load.",
        test_type="Verification against published vectors",
        testing_data="Published worked examples; no patient data.",
        validation_process="pytest tests/unit/models run the committed model.onnx through onnxruntime.",
    ),
    "FairnessEquity": KeyMetric(
        goal="Report subgroup calibration and discrimination in local data.",
        results=(),
        interpretation="Not yet measured locally; published subgroup performance in Goff et al. 2014.",
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
