"""diabetes-progression: a small MLP trained on scikit-learn's bundled diabetes data, via skl2onnx.

The input contract and the card live here; training and export are in diabetes_training.py, the
card prose in diabetes_text.py. This is a demonstration model: it exercises the trained-model path
(export, parity, CUDA, monitoring) end to end and must never inform care.
"""

from __future__ import annotations

import numpy as np

from cds_server.inference.reference import common
from cds_server.inference.reference.diabetes_text import BIBTEX
from cds_server.inference.reference.diabetes_text import REFERENCES
from cds_server.inference.reference.diabetes_text import key_metrics
from cds_server.inference.reference.diabetes_text import narrative
from cds_server.inference.reference.diabetes_training import DATASET_COLUMNS
from cds_server.inference.reference.diabetes_training import INNER_FOLD_SEED
from cds_server.inference.reference.diabetes_training import MODEL_ID
from cds_server.inference.reference.diabetes_training import MODEL_SEED
from cds_server.inference.reference.diabetes_training import OUTER_FOLD_SEED
from cds_server.inference.reference.diabetes_training import VERSION
from cds_server.inference.reference.diabetes_training import export
from cds_server.inference.reference.diabetes_training import train
from cds_server.inference.reference.spec import InputDefinition
from cds_server.inference.reference.spec import OutputDefinition
from cds_server.inference.reference.spec import ReferenceModel
from cds_server.inference.reference.spec import ReferencePopulation
from cds_server.inference.reference.spec import SelfTestDefinition

#: (input name, dataset column, description, UCUM unit, FHIR source)
_COLUMNS = (
    ("age_years", "age", "Age in years.", "a", "Patient.birthDate, age in completed years"),
    (
        "sex_code",
        "sex",
        "Sex as coded in the dataset: 1 or 2. WHICH CODE IS FEMALE IS UNDOCUMENTED (see cautions).",
        "1",
        "Patient.gender mapped to 1/2 by a documented local assumption",
    ),
    ("bmi", "bmi", "Body mass index.", "kg/m2", "Observation LOINC 39156-5"),
    (
        "mean_arterial_pressure",
        "bp",
        "Average blood pressure, taken as mean arterial pressure (SBP + 2 x DBP) / 3 - an assumption.",
        "mm[Hg]",
        "Observation LOINC 8478-0, or derived from BP panel components 8480-6 and 8462-4",
    ),
    ("total_cholesterol", "s1", "Total serum cholesterol (s1, tc).", "mg/dL", "Observation LOINC 2093-3"),
    ("ldl_cholesterol", "s2", "LDL cholesterol (s2, ldl).", "mg/dL", "Observation LOINC 18262-6 or 13457-7"),
    ("hdl_cholesterol", "s3", "HDL cholesterol (s3, hdl).", "mg/dL", "Observation LOINC 2085-9"),
    (
        "tc_hdl_ratio",
        "s4",
        "Total cholesterol / HDL (s4, tch).",
        "1",
        "Observation LOINC 9830-1, or 2093-3 / 2085-9",
    ),
    (
        "ln_triglycerides",
        "s5",
        "Natural log of serum triglycerides in mg/dL (s5, ltg: 'possibly' the log, per the dataset).",
        "1",
        "ln(Observation LOINC 2571-8 in mg/dL)",
    ),
    ("glucose", "s6", "Blood sugar (s6, glu).", "mg/dL", "Observation LOINC 2345-7 or 2339-0"),
)
INPUT_NAMES = tuple(column[0] for column in _COLUMNS)
# The model reads the dataset's columns in the dataset's order; the input names only rename them.
assert tuple(column[1] for column in _COLUMNS) == DATASET_COLUMNS
OUTPUTS = (
    OutputDefinition(
        "progression_1y",
        "Predicted quantitative measure of diabetes progression one year after baseline (dataset units, "
        "observed 25-346).",
        "{score}",
        "float32",
        (25.0, 346.0),
    ),
)


def reference_model() -> ReferenceModel:
    run = train()
    features = run.features
    inputs = tuple(
        InputDefinition(
            name,
            description,
            unit,
            fhir,
            allowed_values=(1.0, 2.0) if name == "sex_code" else None,
            applicable_range=None
            if name == "sex_code"
            else (
                float(features[:, index].min()),
                float(features[:, index].max()),
                "outside the range seen in the 442 training patients; the network would extrapolate",
            ),
        )
        for index, (name, _, description, unit, fhir) in enumerate(_COLUMNS)
    )
    population = ReferencePopulation(
        source=(
            "sklearn.datasets.load_diabetes(scaled=False): the training data (Efron et al. 2004), "
            "BSD-3-Clause"
        ),
        description="All 442 training patients, one row each.",
        method="numpy linear-interpolation quantiles of each raw input column.",
        n_rows=len(features),
        n_patients=len(features),
        distributions={
            name: {
                "n": len(features),
                "quantiles": [
                    round(float(q), 4) for q in np.quantile(features[:, index], np.linspace(0, 1, 11))
                ],
            }
            for index, name in enumerate(INPUT_NAMES)
        },
    )
    expected = run.model.predict(features[:3])
    self_tests = tuple(
        SelfTestDefinition(
            f"training row {row} (scikit-learn prediction of the exported network)",
            "sklearn.datasets.load_diabetes(scaled=False)",
            dict(zip(INPUT_NAMES, (float(value) for value in features[row]), strict=True)),
            {"progression_1y": round(float(expected[row]), 3)},
            0.01,
        )
        for row in range(3)
    )
    return ReferenceModel(
        id=MODEL_ID,
        version=VERSION,
        name="Diabetes progression at one year (demonstration MLP)",
        summary=(
            "DEMONSTRATION MODEL - NOT FOR CLINICAL USE. Predicts the dataset's one-year "
            "disease-progression measure from ten baseline variables with a small neural network trained on "
            "scikit-learn's bundled diabetes data (442 patients). It exists to exercise the trained-model "
            "path end to end."
        ),
        release_date=common.RELEASE_DATE,
        model_type="trained",
        output_type="prediction",
        keywords=("diabetes", "demonstration", "neural network", "regression"),
        inputs=inputs,
        outputs=OUTPUTS,
        thresholds=(),
        self_tests=self_tests,
        model_bytes=export(run.model),
        converter={"name": "skl2onnx", "version": common.library_versions("skl2onnx")["skl2onnx"]},
        libraries=common.library_versions("scikit-learn", "skl2onnx"),
        build={
            "script": common.BUILD_SCRIPT,
            "module": __name__,
            "deterministic": (
                "same libraries and BLAS: identical bytes; weights rounded to 2^-16 to absorb last-bit BLAS "
                "differences"
            ),
            "random_seeds": {
                "model": MODEL_SEED,
                "outer_folds": OUTER_FOLD_SEED,
                "inner_folds": INNER_FOLD_SEED,
            },
            "threads": "1 (threadpoolctl)",
            "target_opset": 17,
            "zipmap": "not applicable (regressor; plain tensor output)",
        },
        population=population,
        performance=run.performance,
        narrative=narrative(run.performance),
        key_metrics=key_metrics(run.performance),
        references=REFERENCES,
        bibtex=BIBTEX,
    )
