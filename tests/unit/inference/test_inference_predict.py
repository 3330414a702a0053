"""predict / predict_batch: the input contract, non-finite flags, applicability, batches."""

from __future__ import annotations

import numpy as np
import pytest

from cds_server.inference import ModelInputError
from cds_server.inference import ModelRegistry

PCE_ROW = [55, 1, 0, 213, 50, 120, 0, 0, 0]


def pce(*values: float) -> np.ndarray:
    return np.array(values or PCE_ROW, dtype=np.float32)


def test_one_row_gives_named_float_outputs_with_provenance(registry: ModelRegistry) -> None:
    prediction = registry.predict("ascvd-pce", pce())

    assert prediction.model_id == "ascvd-pce"
    assert prediction.version == "1.0.0"
    assert prediction.sha256 == registry.card("ascvd-pce").sha256
    assert prediction.provider == "CPUExecutionProvider"
    assert set(prediction.outputs) == {"risk_10y"}
    assert isinstance(prediction.outputs["risk_10y"], float)
    assert prediction.inputs["total_cholesterol"] == 213.0
    assert prediction.usable
    assert not prediction.non_finite


def test_a_row_may_also_come_as_a_one_row_matrix(registry: ModelRegistry) -> None:
    flat = registry.predict("ascvd-pce", pce())
    matrix = registry.predict("ascvd-pce", pce()[None, :])
    assert flat.outputs == matrix.outputs


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        (np.zeros(8, np.float32), r"expects \(9\) float32 \(age_years, sex_male, race_black"),
        (np.zeros((2, 9), np.float32), r"got shape \(2, 9\)"),
        (np.zeros((1, 1, 9), np.float32), r"got shape \(1, 1, 9\)"),
        (np.zeros(9, np.float64), "got dtype float64"),
        (np.zeros(9, np.int64), "got dtype int64"),
    ],
    ids=["too-few", "batch-to-predict", "rank-3", "float64", "int64"],
)
def test_wrong_shape_or_dtype_is_a_clear_error(
    registry: ModelRegistry, features: np.ndarray, expected: str
) -> None:
    with pytest.raises(ModelInputError, match=expected):
        registry.predict("ascvd-pce", features)


def test_a_list_is_not_silently_converted(registry: ModelRegistry) -> None:
    with pytest.raises(ModelInputError, match="numpy array"):
        registry.predict("ascvd-pce", PCE_ROW)  # type: ignore[arg-type]


def test_model_input_error_is_a_server_fault_with_a_stable_code() -> None:
    error = ModelInputError("x")
    assert error.status == 500
    assert error.code == "model-input-mismatch"
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("position", range(9))
def test_nan_in_any_input_is_flagged_non_finite_and_unusable(registry: ModelRegistry, position: int) -> None:
    features = pce()
    features[position] = np.nan

    prediction = registry.predict("ascvd-pce", features)

    assert prediction.non_finite
    assert not prediction.usable
    assert np.isnan(prediction.outputs["risk_10y"])  # the graph itself propagates NaN
    assert any("missing or not a finite number" in reason for reason in prediction.inapplicable)


def test_infinity_is_flagged_too(registry: ModelRegistry) -> None:
    features = np.array([16, 97, 0, np.inf, 120, 70, 1, 0], np.float32)
    prediction = registry.predict("news2", features)
    assert prediction.non_finite
    assert not np.isfinite(prediction.outputs["news2_score"])


def test_inputs_outside_applicability_give_reasons_not_a_usable_score(registry: ModelRegistry) -> None:
    prediction = registry.predict("ascvd-pce", pce(38, 1, 0, 213, 50, 120, 0, 0, 0))

    assert not prediction.non_finite
    assert not prediction.usable
    assert prediction.inapplicable == (
        "age_years is outside 40 to 79 years: the Pooled Cohort Equations were derived and validated only in "
        "adults aged 40 to 79",
    )


def test_batch_outputs_are_aligned_vectors_with_per_row_flags(registry: ModelRegistry) -> None:
    rows = np.array(
        [
            PCE_ROW,
            [38, 1, 0, 213, 50, 120, 0, 0, 0],
            [55, 0, 1, 213, 50, 120, 0, 0, np.nan],
            [54, 1, 0, 170, 50, 157, 0, 1, 1],
        ],
        dtype=np.float32,
    )

    batch = registry.predict_batch("ascvd-pce", rows)

    assert batch.outputs["risk_10y"].shape == (4,)
    assert batch.non_finite.tolist() == [False, False, True, False]
    assert [bool(reasons) for reasons in batch.inapplicable] == [False, True, True, False]
    assert batch.usable.tolist() == [True, False, False, True]
    for index, row in enumerate(rows):
        single = registry.predict("ascvd-pce", row)
        # Same graph, different batch shape: kernels may vectorise differently (last-bit differences).
        np.testing.assert_allclose(batch.outputs["risk_10y"][index], single.outputs["risk_10y"], rtol=1e-12)
        assert batch.inapplicable[index] == single.inapplicable


def test_batch_rejects_a_flat_row(registry: ModelRegistry) -> None:
    with pytest.raises(ModelInputError, match=r"\(batch, 9\)"):
        registry.predict_batch("ascvd-pce", pce())


def test_large_batches_run(registry: ModelRegistry) -> None:
    rows = np.tile(np.array([[50, 60, 25, 90, 180, 100, 50, 4, 4.5, 90]], np.float32), (4096, 1))
    batch = registry.predict_batch("diabetes-progression", rows)
    assert batch.outputs["progression_1y"].shape == (4096,)
    assert np.all(batch.outputs["progression_1y"] == batch.outputs["progression_1y"][0])
