"""Card prose of news2: references, HTI-1 narrative and CHAI key metrics (see news2.py for the maths)."""

from __future__ import annotations

from cds_server.inference.reference.spec import KeyMetric

REFERENCES = (
    "Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment of "
    "acute-illness severity in the NHS. Updated report of a working party. London: RCP; 2017.",
    "Smith GB, Prytherch DR, Meredith P, Schmidt PE, Featherstone PI. The ability of the National Early "
    "Warning Score (NEWS) to discriminate patients at risk of early cardiac arrest, unanticipated "
    "intensive care unit admission, and death. Resuscitation. 2013;84(4):465-470.",
)

BIBTEX = """@techreport{rcp2017news2,
  author = {{Royal College of Physicians}},
  title = {National Early Warning Score ({NEWS}) 2: Standardising the assessment of
           acute-illness severity in the {NHS}},
  institution = {Royal College of Physicians},
  address = {London},
  year = {2017}
}
@article{smith2013news,
  author = {Smith, Gary B. and Prytherch, David R. and Meredith, Paul and Schmidt, Paul E.
            and Featherstone, Peter I.},
  title = {The ability of the National Early Warning Score ({NEWS}) to discriminate patients at
           risk of early cardiac arrest, unanticipated intensive care unit admission, and death},
  journal = {Resuscitation},
  volume = {84},
  number = {4},
  pages = {465--470},
  year = {2013}
}"""

NARRATIVE: dict[str, str] = {
    "1.iii": (
        "news2_score: the NEWS2 aggregate (0-20) of respiration rate, SpO2 (scale 1 or 2), air or oxygen, "
        "systolic BP, pulse, consciousness and temperature; any_parameter_3: 1 when any single parameter "
        "scores 3. Implausible values (e.g. a temperature in °F) give no score; the reasons are returned."
    ),
    "1.iv": (
        "Evaluation: a rule-based aggregate early-warning score from the RCP chart. It is not a model "
        "fitted to data by this project; the attributes are completed for consistency with the predictive "
        "models."
    ),
    "2.i": (
        "Detect acute deterioration in adults in hospital and prompt the clinical response the RCP "
        "escalation chart attaches to each score band (routine monitoring, urgent ward review, urgent "
        "response, emergency response)."
    ),
    "2.ii": "Adults (16 years and over) in acute hospital settings and ambulance/pre-hospital assessment.",
    "2.iii": "Nurses, physicians, rapid-response and critical-care outreach teams.",
    "2.iv": (
        "Informs and prompts escalation; it never replaces clinical judgement, which can escalate at any "
        "score."
    ),
    "3.i": (
        "Do not use for children under 16, in pregnancy (use an obstetric early-warning score), or in "
        "spinal cord injury; interpret with care at the end of life and in chronic conditions with abnormal "
        "baselines. SpO2 scale 2 only for confirmed hypercapnic respiratory failure on a clinician's "
        "documented decision. A single set of observations is a snapshot; trends matter."
    ),
    "3.ii": (
        "Stale or missing observations give a misleading score: the card shows each observation's time. "
        "Pulse oximetry can overestimate saturation in people with darker skin pigmentation, which can "
        "under-score SpO2. Alert fatigue follows from scoring too often or on old data."
    ),
    "4.i": (
        "Not trained by cds-server. The NEWS weightings were set by an RCP working party (2012) and the "
        "original NEWS was validated on hospital vital-sign records (Smith et al. 2013); NEWS2 (2017) added "
        "SpO2 scale 2 and new confusion."
    ),
    "4.ii": (
        "Uses none of race, ethnicity, language, sexual orientation, gender identity, sex, date of birth "
        "(age), social determinants of health or health status assessments."
    ),
    "4.iii": (
        "See the RCP report and Smith et al. 2013 for the populations used in development and validation "
        "(UK hospital adults). No reference distribution is bundled (see reference_population)."
    ),
    "4.iv": "UK hospital data; relevant to adult acute care elsewhere, but local validation is needed.",
    "5.i": (
        "The implementation reproduces the RCP chart exactly (every boundary is pinned by tests run through "
        "the ONNX file); it uses no demographic inputs and adds no weighting of its own. Physiologically "
        "implausible values (likely unit or entry errors) give no score rather than a misleading one."
    ),
    "5.ii": (
        "The score uses no demographic inputs. Known measurement bias (pulse oximetry and skin "
        "pigmentation) is disclosed (3.ii); monitoring is stratified by race, ethnicity, sex, age band and "
        "language (8.iii)."
    ),
    "6.i": (
        "Not assessed by cds-server. NEWS and NEWS2 have been validated in many published studies; see the "
        "references."
    ),
    "6.iii": "As reported by those studies; not re-analysed by this project.",
    "6.iv": (
        "None by this project. The implementation is verified rather than validated: its ONNX graph must "
        "reproduce every chart boundary (tests and start-up self-tests)."
    ),
    "7.i": "Published by Smith et al. 2013 for NEWS; not re-estimated by this project.",
    "7.ii": "Not reported by the sources cited; not estimated by this project.",
    "7.iii": "See published validations of NEWS2; not re-estimated by this project.",
    "7.iv": "See published validations of NEWS2; not re-estimated by this project.",
    "7.v": "No evaluation of this implementation's effect on outcomes exists.",
    "8.i": (
        "Continuous, by the deploying site with cds-server's monitoring: every score is audited with model "
        "id, version and sha256; weekly PSI of each input against the local baseline once established (warn "
        "0.10, act 0.25), the score distribution and the share of refused requests; quarterly review of "
        "escalations against outcomes (unplanned ICU admission, cardiac arrest, death within 24 h)."
    ),
    "how_to_use": (
        "Fires when new vital signs are recorded. Read the aggregate with any_parameter_3 and follow the "
        "local escalation policy for the band; check the observation times shown on the card."
    ),
    "known_biases": "No demographic inputs; pulse oximetry may overestimate SpO2 in darker skin (3.ii).",
    "clinical_risk_level": "High: time-critical escalation support in acute care.",
    "model_type_description": (
        "Rule-based aggregate score (the RCP NEWS2 chart), evaluated as an ONNX graph of comparisons."
    ),
    "input_data_source": (
        "Vital-sign Observations and oxygen-delivery data in the EHR via CDS Hooks prefetch/FHIR."
    ),
    "data_types": (
        "Inputs: 8 numbers (rates, %, °C, mmHg, 0/1 flags), float32. Outputs: the score and a 0/1 flag, "
        "float32."
    ),
}

KEY_METRICS = {
    "UsefulnessUsabilityEfficacy": KeyMetric(
        goal="Reproduce the RCP chart exactly at every boundary.",
        results=(("Chart boundaries reproduced", '{"parameters": 7, "both_sides_of_every_boundary": true}'),),
        interpretation=(
            "Every boundary and the corrected IG example reproduce through the ONNX file in CI and at load."
        ),
        test_type="Verification against the published chart",
        testing_data="Synthetic boundary cases; no patient data.",
        validation_process="pytest tests/unit/models run the committed model.onnx through onnxruntime.",
    ),
    "FairnessEquity": KeyMetric(
        goal="Report subgroup performance in local data.",
        results=(),
        interpretation="Not yet measured locally.",
        test_type="Planned local shadow-mode evaluation",
        testing_data="Local EHR data of the deploying site.",
        validation_process="See source attributes 8.iii-8.iv.",
    ),
    "SafetyReliability": KeyMetric(
        goal="Never show a score from implausible or non-finite inputs.",
        results=(("Plausibility and non-finite checks", '{"enforced": true}'),),
        interpretation="Implausible inputs return reasons; NaN inputs propagate to NaN and are refused.",
        test_type="Unit tests",
        testing_data="Synthetic boundary cases.",
        validation_process="tests/unit/models and tests/unit/inference.",
    ),
}
