"""Card prose of diabetes-progression: references, HTI-1 narrative and CHAI key metrics."""

from __future__ import annotations

from typing import Any

from cds_server.inference.reference.diabetes_training import DATASET_COLUMNS
from cds_server.inference.reference.diabetes_training import FOLDS
from cds_server.inference.reference.diabetes_training import HIDDEN_UNITS
from cds_server.inference.reference.diabetes_training import OUTER_FOLD_SEED
from cds_server.inference.reference.spec import KeyMetric

REFERENCES = (
    "Efron B, Hastie T, Johnstone I, Tibshirani R. Least Angle Regression. Annals of Statistics. "
    "2004;32(2):407-499 (the diabetes data set).",
    "scikit-learn: sklearn.datasets.load_diabetes, Diabetes dataset description (DESCR), "
    "https://www4.stat.ncsu.edu/~boos/var.select/diabetes.html (original data).",
)

BIBTEX = """@article{efron2004lars,
  author = {Efron, Bradley and Hastie, Trevor and Johnstone, Iain and Tibshirani, Robert},
  title = {Least Angle Regression},
  journal = {The Annals of Statistics},
  volume = {32},
  number = {2},
  pages = {407--499},
  year = {2004}
}"""


def narrative(performance: dict[str, Any]) -> dict[str, str]:
    cv = performance["cross_validation"]
    baseline = performance["baseline_linear_regression_same_folds"]
    subgroups = performance["subgroups_out_of_fold"]
    cv_text = (
        f"Nested {FOLDS}-fold cross-validation on the 442 patients: R² {cv['r2']['mean']:.3f} (SD "
        f"{cv['r2']['sd']:.3f}), MAE {cv['mae']['mean']:.1f}, RMSE {cv['rmse']['mean']:.1f} (target units; "
        f"outer fold seed {OUTER_FOLD_SEED}). A linear regression on the same folds: R² "
        f"{baseline['r2']['mean']:.3f}, MAE {baseline['mae']['mean']:.1f} - the network is no better than a "
        "linear model on this small data set."
    )
    subgroup_text = "; ".join(
        f"{name.replace('_', ' ')}: n {values['n']}, R² {values['r2']:.3f}, MAE {values['mae']:.1f}, mean "
        f"residual {values['mean_residual']:+.1f}"
        for name, values in subgroups.items()
    )
    return {
        "1.iii": (
            "progression_1y: the predicted value of the data set's 'quantitative measure of disease "
            "progression one year after baseline' (observed range 25-346; the measure itself is not further "
            "defined by the source). No score is given for inputs outside the ranges seen in training."
        ),
        "1.iv": "Prediction (regression output of a trained neural network).",
        "2.i": (
            "Demonstration only: shows how a trained model is exported, verified, served, monitored and "
            "documented in cds-server. It must not inform care."
        ),
        "2.ii": (
            "None clinically. Technically: adults like the 442 study patients (ages 19-79) with the ten "
            "baseline measurements."
        ),
        "2.iii": "Developers, integrators and informaticians testing cds-server.",
        "2.iv": "None: demonstration; not to be shown to clinicians as advice.",
        "3.i": (
            "Do not use for any patient-care decision, in any population. The dataset's sex coding (1/2) is "
            "undocumented - which code is female is unknown, so any mapping from Patient.gender is an "
            "assumption; 'bp' is taken to be mean arterial pressure and 's5' the natural log of "
            "triglycerides, both assumptions from the dataset description."
        ),
        "3.ii": (
            "Trained on 442 patients from a single, poorly documented source; the outcome measure is not "
            "defined clinically; there is no external validation; the sex coding is ambiguous (3.i). "
            "Cross-validated performance is modest (7.i) and no better than a linear model."
        ),
        "4.i": (
            "All 442 patients of the scikit-learn diabetes data set (Efron et al. 2004), no exclusions; "
            "inclusion criteria of the original study are not documented in the source."
        ),
        "4.ii": (
            "Uses sex (coded 1/2, meaning undocumented) and age (date of birth). Does not use race, "
            "ethnicity, language, sexual orientation, gender identity, social determinants of health or "
            "health status assessments."
        ),
        "4.iii": (
            f"The source documents only age (19-79) and sex (two codes, {subgroups['sex_code_1']['n']} and "
            f"{subgroups['sex_code_2']['n']} patients); race, ethnicity and other characteristics are "
            "unknown, so representativeness cannot be assessed."
        ),
        "4.iv": "Unknown provenance and era; no relevance to any deployed setting can be claimed.",
        "5.i": (
            "Out-of-fold errors were compared across the two sex codes and two age bands (7.ii); no "
            "mitigation was applied because the model is for demonstration only."
        ),
        "5.ii": "None beyond reporting subgroup errors; the model is not for clinical use.",
        "6.i": "None: no external data exist for this demonstration model.",
        "6.ii": "None.",
        "6.iii": "Not applicable: no external validation.",
        "6.iv": "Not performed.",
        "7.i": cv_text,
        "7.ii": f"Out-of-fold results by subgroup (same nested cross-validation): {subgroup_text}.",
        "7.iii": "Not available: no external validation.",
        "7.iv": "Not available: no external validation.",
        "7.v": "None: the model is not used in care.",
        "8.i": (
            "The monitoring pipeline runs as for any model - every score audited with model id, version and "
            "sha256, weekly PSI of each input against the training deciles in this card (warn 0.10, act "
            "0.25) - so that it can be exercised end to end; no clinical outcomes are collected for this "
            "demonstration."
        ),
        "8.ii": "Not applicable: demonstration model, not deployed in care.",
        "8.iv": "Not applicable: demonstration model, not deployed in care.",
        "9.i": (
            "Rebuilt only by scripts/build_reference_models.py when the training code or libraries change; "
            "each rebuild is a new version, deployed first in shadow."
        ),
        "9.ii": "Not applicable: demonstration model.",
        "how_to_use": "Call it from tests, demos and job pipelines; never surface it as clinical advice.",
        "known_biases": "Sex coding ambiguous; unknown demographics; single small data set.",
        "clinical_risk_level": "None in intended use (demonstration); high if misused for care.",
        "model_type_description": (
            f"Multilayer perceptron regressor, {len(DATASET_COLUMNS)} inputs - {HIDDEN_UNITS} ReLU units - 1 "
            "output (scikit-learn MLPRegressor, lbfgs), exported with skl2onnx as float32."
        ),
        "input_data_source": (
            "Ten baseline measurements (demographics, BMI, blood pressure, six serum measurements) via FHIR "
            "Observations."
        ),
        "data_types": (
            "Inputs: 10 numbers in raw units, float32. Output: one number in dataset units, float32."
        ),
        "release_stage": "Demonstration (not for clinical use).",
        "regulatory_approval": "None; not intended for clinical use.",
    }


def key_metrics(performance: dict[str, Any]) -> dict[str, KeyMetric]:
    cv = performance["cross_validation"]
    return {
        "UsefulnessUsabilityEfficacy": KeyMetric(
            goal="Estimate out-of-sample accuracy honestly.",
            results=(
                ("nested 5-fold CV R² (mean, sd)", f'{{"mean": {cv["r2"]["mean"]}, "sd": {cv["r2"]["sd"]}}}'),
                (
                    "nested 5-fold CV MAE (mean, sd)",
                    f'{{"mean": {cv["mae"]["mean"]}, "sd": {cv["mae"]["sd"]}}}',
                ),
            ),
            interpretation="Modest accuracy, equal to a linear baseline; adequate for a demonstration only.",
            test_type="Nested cross-validation",
            testing_data="sklearn load_diabetes (442 patients), held-out outer folds.",
            validation_process=(
                "Hyper-parameter chosen inside each training split; outer folds never seen in selection."
            ),
        ),
        "FairnessEquity": KeyMetric(
            goal="Compare errors across sex codes and age bands.",
            results=tuple(
                (name, f'{{"n": {values["n"]}, "r2": {values["r2"]}, "mae": {values["mae"]}}}')
                for name, values in performance["subgroups_out_of_fold"].items()
            ),
            interpretation="Out-of-fold errors by subgroup; see source attribute 7.ii.",
            test_type="Subgroup analysis of out-of-fold predictions",
            testing_data="Same nested cross-validation.",
            validation_process="Computed by the build script on every rebuild.",
        ),
        "SafetyReliability": KeyMetric(
            goal="Identical numbers in scikit-learn, onnxruntime CPU and CUDA.",
            results=(("ONNX vs scikit-learn, all 442 rows", '{"max_relative_difference_bound": 1e-05}'),),
            interpretation=(
                "Parity is asserted in tests/unit/models; CUDA vs CPU parity in bench/gpu_check.py."
            ),
            test_type="Numerical parity tests",
            testing_data="The 442 training rows.",
            validation_process="pytest tests/unit/models; bench/gpu_check.py on a GPU host.",
        ),
    }
