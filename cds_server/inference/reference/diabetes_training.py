"""Training and export of the diabetes-progression MLP (see diabetes.py for the card).

Data: ``sklearn.datasets.load_diabetes(scaled=False)`` - 442 patients, 10 baseline variables in
raw units (columns age, sex, bmi, bp, s1-s6), target "a quantitative measure of disease
progression one year after baseline" (Efron et al., Annals of Statistics 2004). Nothing is
downloaded: the CSVs ship inside the scikit-learn wheel.

Training standardises inputs and target and picks the L2 penalty by inner cross-validation. For
the export both standardisations are folded into the first and last layer, so the ONNX graph is
a plain MatMul/Add/ReLU network on raw units (standard ops the CUDA provider runs), and the
scikit-learn object the parity test compares against is that very network.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from numpy.typing import NDArray
from sklearn.compose import TransformedTargetRegressor  # type: ignore[import-untyped]
from sklearn.datasets import load_diabetes  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.linear_model import LinearRegression  # type: ignore[import-untyped]
from sklearn.metrics import mean_absolute_error  # type: ignore[import-untyped]
from sklearn.metrics import r2_score
from sklearn.metrics import root_mean_squared_error
from sklearn.model_selection import GridSearchCV  # type: ignore[import-untyped]
from sklearn.model_selection import KFold
from sklearn.neural_network import MLPRegressor  # type: ignore[import-untyped]
from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]
from sklearn.preprocessing import StandardScaler  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

MODEL_ID = "diabetes-progression"
VERSION = "1.0.0"

HIDDEN_UNITS = 16
ALPHAS = (1.0, 3.0, 10.0, 30.0)
MODEL_SEED = 0
OUTER_FOLD_SEED = 2004
INNER_FOLD_SEED = 2005
FOLDS = 5
#: Folded weights are rounded to multiples of 2**-16 so that last-bit differences between BLAS
#: builds do not change the artifact's bytes (the effect on predictions is < 0.01 units).
WEIGHT_GRID = 2.0**-16

#: The dataset columns, in the order of the model inputs.
DATASET_COLUMNS = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


@dataclass(frozen=True)
class TrainingRun:
    """Everything the build learns from the data, kept for the card and the parity test."""

    model: Any  # the folded MLPRegressor on raw units
    performance: dict[str, Any]
    features: NDArray[np.float64]
    target: NDArray[np.float64]


def dataset() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    features, target = load_diabetes(return_X_y=True, scaled=False)
    return np.asarray(features, dtype=np.float64), np.asarray(target, dtype=np.float64)


def train(*, cross_validate: bool = True) -> TrainingRun:
    """Nested cross-validation (if asked) and the final fit, single-threaded for reproducibility."""
    features, target = dataset()
    with threadpool_limits(1), warnings.catch_warnings():
        # An MLP that stops before converging is not the model the card describes: fail the build.
        warnings.simplefilter("error", ConvergenceWarning)
        performance = _nested_cross_validation(features, target) if cross_validate else {}
        search = _search().fit(features, target)
    fitted = search.best_estimator_
    model = _folded(fitted)
    drift = float(np.max(np.abs(model.predict(features) - fitted.predict(features))))
    if drift > 0.05:
        raise AssertionError(f"folding the scalers changed predictions by {drift}")
    performance["final_model"] = {
        "architecture": (
            f"MLP {len(DATASET_COLUMNS)}-{HIDDEN_UNITS}-1, ReLU, L2 alpha "
            f"{search.best_params_['regressor__mlpregressor__alpha']:g}"
        ),
        "solver": "lbfgs",
        "iterations": int(fitted.regressor_[-1].n_iter_),
        "random_state": MODEL_SEED,
        "alpha_selected_by": (
            f"{FOLDS}-fold CV on all 442 rows (KFold shuffle, seed {INNER_FOLD_SEED}) over {list(ALPHAS)}"
        ),
        "export": (
            "input and target standardisation folded into the first and last layers; weights rounded to "
            "multiples of 2^-16"
        ),
    }
    return TrainingRun(model=model, performance=performance, features=features, target=target)


def export(model: Any) -> bytes:
    from skl2onnx import to_onnx  # type: ignore[import-untyped]
    from skl2onnx.common.data_types import FloatTensorType  # type: ignore[import-untyped]

    proto: onnx.ModelProto = to_onnx(
        model,
        initial_types=[("features", FloatTensorType([None, len(DATASET_COLUMNS)]))],
        final_types=[("progression_1y", FloatTensorType([None, 1]))],
        target_opset=17,
    )
    proto.ir_version = 8
    proto.doc_string = (
        "Diabetes progression at one year, MLP trained on scikit-learn's diabetes data (Efron et al. 2004)."
    )
    for key, value in (
        ("model_id", MODEL_ID),
        ("version", VERSION),
        ("source", "sklearn.datasets.load_diabetes(scaled=False)"),
    ):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto, full_check=True)
    data: bytes = proto.SerializeToString(deterministic=True)
    return data


def _search() -> Any:
    estimator = TransformedTargetRegressor(
        regressor=make_pipeline(
            StandardScaler(),
            MLPRegressor(
                hidden_layer_sizes=(HIDDEN_UNITS,),
                activation="relu",
                solver="lbfgs",
                max_iter=5000,
                random_state=MODEL_SEED,
            ),
        ),
        transformer=StandardScaler(),
    )
    return GridSearchCV(
        estimator,
        {"regressor__mlpregressor__alpha": list(ALPHAS)},
        cv=KFold(FOLDS, shuffle=True, random_state=INNER_FOLD_SEED),
        scoring="neg_mean_squared_error",
    )


def _nested_cross_validation(features: NDArray[np.float64], target: NDArray[np.float64]) -> dict[str, Any]:
    outer = KFold(FOLDS, shuffle=True, random_state=OUTER_FOLD_SEED)
    out_of_fold = np.empty_like(target)
    linear_out_of_fold = np.empty_like(target)
    folds: list[dict[str, Any]] = []
    for train_rows, test_rows in outer.split(features):
        search = _search().fit(features[train_rows], target[train_rows])
        out_of_fold[test_rows] = search.predict(features[test_rows])
        linear = make_pipeline(StandardScaler(), LinearRegression()).fit(
            features[train_rows], target[train_rows]
        )
        linear_out_of_fold[test_rows] = linear.predict(features[test_rows])
        folds.append(
            {
                "n_test": len(test_rows),
                "alpha": float(search.best_params_["regressor__mlpregressor__alpha"]),
                **_metrics(target[test_rows], out_of_fold[test_rows]),
            }
        )
    linear_folds = [_metrics(target[test], linear_out_of_fold[test]) for _, test in outer.split(features)]
    age, sex = features[:, 0], features[:, 1]
    groups = {
        "sex_code_1": sex == 1,
        "sex_code_2": sex == 2,
        "age_under_50": age < 50,
        "age_50_and_over": age >= 50,
    }
    return {
        "cross_validation": {
            "scheme": (
                f"nested {FOLDS}-fold: outer KFold(shuffle, seed {OUTER_FOLD_SEED}) for these estimates; "
                f"inside each training split, {FOLDS}-fold KFold(shuffle, seed {INNER_FOLD_SEED}) chooses "
                f"alpha from {list(ALPHAS)}"
            ),
            "folds": folds,
            **{name: _summary([fold[name] for fold in folds]) for name in ("r2", "mae", "rmse")},
        },
        "baseline_linear_regression_same_folds": {
            name: _summary([fold[name] for fold in linear_folds]) for name in ("r2", "mae", "rmse")
        },
        "subgroups_out_of_fold": {
            name: {
                "n": int(mask.sum()),
                **_metrics(target[mask], out_of_fold[mask]),
                "mean_residual": round(float(np.mean(target[mask] - out_of_fold[mask])), 2),
            }
            for name, mask in groups.items()
        },
    }


def _metrics(truth: NDArray[np.float64], predicted: NDArray[np.float64]) -> dict[str, float]:
    return {
        "r2": round(float(r2_score(truth, predicted)), 3),
        "mae": round(float(mean_absolute_error(truth, predicted)), 2),
        "rmse": round(float(root_mean_squared_error(truth, predicted)), 2),
    }


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": round(float(np.mean(values)), 3), "sd": round(float(np.std(values, ddof=1)), 3)}


def _folded(fitted: Any) -> Any:
    """The fitted TransformedTargetRegressor(Pipeline(scaler, MLP)) as one MLP on raw units."""
    input_scaler, network = fitted.regressor_[0], fitted.regressor_[-1]
    target_scaler = fitted.transformer_
    folded = copy.deepcopy(network)
    first, last = np.asarray(network.coefs_[0], np.float64), np.asarray(network.coefs_[-1], np.float64)
    first_bias, last_bias = (
        np.asarray(network.intercepts_[0], np.float64),
        np.asarray(network.intercepts_[-1], np.float64),
    )
    mean, scale = input_scaler.mean_, input_scaler.scale_
    y_mean, y_scale = float(target_scaler.mean_[0]), float(target_scaler.scale_[0])
    # x_scaled = (x - mean) / scale  and  y = y_mean + y_scale * y_scaled, pushed into the weights.
    coefs = [first / scale[:, None], *network.coefs_[1:-1], last * y_scale]
    intercepts = [
        first_bias - (mean / scale) @ first,
        *network.intercepts_[1:-1],
        last_bias * y_scale + y_mean,
    ]
    folded.coefs_ = [_on_grid(weights) for weights in coefs]
    folded.intercepts_ = [_on_grid(bias) for bias in intercepts]
    return folded


def _on_grid(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.round(np.asarray(values, dtype=np.float64) / WEIGHT_GRID) * WEIGHT_GRID
