"""Turn a feature array into a checked matrix, run it, and wrap the numbers with their flags."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cds_server.inference.applicability import check_applicability
from cds_server.inference.applicability import inapplicable_rows
from cds_server.inference.card import ModelCard
from cds_server.inference.errors import ModelInputError
from cds_server.inference.loader import TENSOR_TYPES
from cds_server.inference.loader import LoadedVersion
from cds_server.inference.results import BatchPrediction
from cds_server.inference.results import Prediction


def feature_matrix(card: ModelCard, features: NDArray[Any], *, batch: bool) -> NDArray[Any]:
    width = card.input_tensor.width
    expected = (
        f"({'batch, ' if batch else ''}{width}) {card.input_tensor.dtype} ({', '.join(card.input_names)})"
    )
    if not isinstance(features, np.ndarray):
        raise ModelInputError(
            f"Model {card.id!r} expects a numpy array {expected}, got {type(features).__name__}."
        )
    if features.dtype != TENSOR_TYPES[card.input_tensor.dtype][0]:
        raise ModelInputError(f"Model {card.id!r} expects {expected}; got dtype {features.dtype}.")
    shape_ok = (
        features.ndim == 2 and features.shape[1] == width and features.shape[0] >= 1
        if batch
        else features.shape in ((width,), (1, width))
    )
    if not shape_ok:
        hint = " Score several rows with predict_batch." if not batch and features.ndim == 2 else ""
        raise ModelInputError(f"Model {card.id!r} expects {expected}; got shape {features.shape}.{hint}")
    return np.ascontiguousarray(features.reshape(-1, width))


def score_row(loaded: LoadedVersion, matrix: NDArray[Any]) -> Prediction:
    card = loaded.card
    outputs = {name: float(vector[0]) for name, vector in loaded.run(matrix).items()}
    # Plain floats from here: per-value Python checks cost ~1 us, numpy's per-column ones ~90 us.
    inputs = dict(zip(card.input_names, matrix[0].tolist(), strict=True))
    return Prediction(
        model_id=card.id,
        version=card.version,
        sha256=card.sha256,
        provider=loaded.provider,
        inputs=inputs,
        outputs=outputs,
        non_finite=not all(math.isfinite(value) for value in (*inputs.values(), *outputs.values())),
        inapplicable=tuple(check_applicability(card, inputs)),
    )


def score_batch(loaded: LoadedVersion, matrix: NDArray[Any]) -> BatchPrediction:
    card = loaded.card
    outputs = loaded.run(matrix)
    finite = np.isfinite(matrix).all(axis=1)
    for vector in outputs.values():
        finite &= np.isfinite(vector)
    return BatchPrediction(
        model_id=card.id,
        version=card.version,
        sha256=card.sha256,
        provider=loaded.provider,
        outputs=outputs,
        non_finite=~finite,
        inapplicable=inapplicable_rows(card, matrix),
    )
