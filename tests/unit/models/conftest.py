"""The committed reference models, run through onnxruntime exactly as the server runs them."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest

from cds_server.inference import ModelRegistry
from cds_server.inference import Prediction

COMMITTED_ARTIFACTS = Path(__file__).resolve().parents[3] / "model_artifacts"


@pytest.fixture(scope="session")
def models() -> ModelRegistry:
    return ModelRegistry.load(COMMITTED_ARTIFACTS, providers=["CPUExecutionProvider"], overrides={})


@pytest.fixture(scope="session")
def score(models: ModelRegistry) -> Callable[[str, Mapping[str, float]], Prediction]:
    """Score named inputs with a model: the row is built in the card's input order."""

    def _score(model_id: str, values: Mapping[str, float]) -> Prediction:
        names = models.card(model_id).input_names
        assert set(values) == set(names), f"give exactly {names}"
        return models.predict(model_id, np.array([values[name] for name in names], dtype=np.float32))

    return _score
