"""diabetes-progression: parity with the scikit-learn network, card metrics and cautions."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
import pytest

from cds_server.inference import ModelRegistry
from cds_server.inference.reference import diabetes_training as diabetes

MODEL_FILE = (
    Path(__file__).resolve().parents[3] / "model_artifacts" / "diabetes-progression" / "1.0.0" / "model.onnx"
)


@pytest.fixture(scope="module")
def training() -> diabetes.TrainingRun:
    # The final fit only (no cross-validation): the same code path the build exports.
    return diabetes.train(cross_validate=False)


def test_onnx_matches_scikit_learn_within_1e_5_on_all_442_patients(
    models: ModelRegistry, training: diabetes.TrainingRun
) -> None:
    expected = training.model.predict(training.features)
    batch = models.predict_batch("diabetes-progression", training.features.astype(np.float32))
    np.testing.assert_allclose(batch.outputs["progression_1y"], expected, rtol=1e-5, atol=0)


def test_the_committed_graph_is_the_network_the_training_code_produces(
    models: ModelRegistry, training: diabetes.TrainingRun
) -> None:
    assert (
        hashlib.sha256(diabetes.export(training.model)).hexdigest()
        == models.card("diabetes-progression").sha256
    )


def test_export_is_a_plain_float32_network_without_cpu_only_ml_ops() -> None:
    graph = onnx.load(str(MODEL_FILE)).graph
    assert {node.op_type for node in graph.node} <= {"Cast", "MatMul", "Add", "Relu", "Reshape"}
    assert all(node.domain in ("", "ai.onnx") for node in graph.node)
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert MODEL_FILE.stat().st_size < 16_000


def test_card_carries_cross_validated_metrics_with_the_fold_seed(models: ModelRegistry) -> None:
    performance = models.card("diabetes-progression").as_dict()["performance"]
    cv = performance["cross_validation"]
    assert f"seed {diabetes.OUTER_FOLD_SEED}" in cv["scheme"]
    assert len(cv["folds"]) == 5
    assert 0.3 < cv["r2"]["mean"] < 0.7
    assert 30 < cv["mae"]["mean"] < 60
    assert cv["r2"]["mean"] == pytest.approx(np.mean([fold["r2"] for fold in cv["folds"]]), abs=1e-3)
    assert set(performance["subgroups_out_of_fold"]) == {
        "sex_code_1",
        "sex_code_2",
        "age_under_50",
        "age_50_and_over",
    }
    assert "baseline_linear_regression_same_folds" in performance


def test_card_cautions_that_the_sex_coding_is_ambiguous(models: ModelRegistry) -> None:
    card = models.card("diabetes-progression")
    document = card.as_dict()
    assert "which code is female is unknown" in document["source_attributes"]["3.i"]
    assert "UNDOCUMENTED" in document["inputs"][1]["description"]
    assert card.inputs[1].allowed_values == (1.0, 2.0)
    assert "NOT FOR CLINICAL USE" in card.summary


def test_applicability_is_the_range_seen_in_training(
    models: ModelRegistry, training: diabetes.TrainingRun
) -> None:
    card = models.card("diabetes-progression")
    for index, spec in enumerate(card.inputs):
        if spec.applicable_range is None:
            continue
        assert spec.applicable_range.min == training.features[:, index].min()
        assert spec.applicable_range.max == training.features[:, index].max()
    too_old = training.features[0].astype(np.float32)
    too_old[0] = 80
    assert (
        models.predict("diabetes-progression", too_old)
        .inapplicable[0]
        .startswith("age_years is outside 19 to 79")
    )
