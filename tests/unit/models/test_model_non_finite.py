"""Every reference graph turns a NaN or infinite input, in any position, into a non-finite output.

Selections (Where) and band comparisons would otherwise swallow NaN - a NaN sex flag reading as
"female", a NaN pulse landing in a score band - and a finite, wrong number would reach a card.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import yaml

ARTIFACTS = Path(__file__).resolve().parents[3] / "model_artifacts"
MODELS = ("ascvd-pce", "prevent", "news2", "diabetes-progression")


def _session_and_row(model_id: str) -> tuple[ort.InferenceSession, np.ndarray]:
    version_dir = ARTIFACTS / model_id / "1.0.0"
    card = yaml.safe_load((version_dir / "model-card.yaml").read_text(encoding="utf-8"))
    first_test = card["self_test"][0]["inputs"]
    row = np.array([[first_test[spec["name"]] for spec in card["inputs"]]], dtype=np.float32)
    session = ort.InferenceSession(str(version_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    return session, row


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("model_id", MODELS)
def test_non_finite_input_anywhere_gives_non_finite_outputs(model_id: str, bad_value: float) -> None:
    session, row = _session_and_row(model_id)
    assert all(np.isfinite(output).all() for output in session.run(None, {"features": row}))
    for position in range(row.shape[1]):
        poisoned = row.copy()
        poisoned[0, position] = bad_value
        outputs = session.run(None, {"features": poisoned})
        for output in outputs:
            assert not np.isfinite(output).any(), f"{model_id} input {position} = {bad_value} gave {output}"
