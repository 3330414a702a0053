"""Model runtime: the repository of ONNX models, their cards, and onnxruntime sessions.

This package is the inference I/O edge: it imports onnxruntime, never Flask or HTTP. Typical use::

    registry = ModelRegistry.load(Path("model_artifacts"))
    registry.status()                       # readiness per model, with the provider really used
    prediction = registry.predict("ascvd-pce", features)   # features: float32, card order
    if prediction.usable:
        ...                                 # build a card from prediction.outputs
    registry.reload()                       # pick up changed artifacts without a restart
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cds_server.errors import ModelNotReady
from cds_server.inference.applicability import check_applicability
from cds_server.inference.card import ApplicableRange
from cds_server.inference.card import InputSpec
from cds_server.inference.card import ModelCard
from cds_server.inference.card import OutputSpec
from cds_server.inference.card import SourceAttribute
from cds_server.inference.card import Threshold
from cds_server.inference.deployment import DEPLOYMENTS_ENV
from cds_server.inference.deployment import PROVIDERS_ENV
from cds_server.inference.deployment import Deployment
from cds_server.inference.deployment import DeploymentOverride
from cds_server.inference.deployment import overrides_from_env
from cds_server.inference.deployment import providers_from_env
from cds_server.inference.errors import ModelInputError
from cds_server.inference.errors import UnknownModel
from cds_server.inference.registry import ModelRegistry
from cds_server.inference.results import BatchPrediction
from cds_server.inference.results import ModelStatus
from cds_server.inference.results import Prediction
from cds_server.inference.results import ReloadReport
from cds_server.inference.results import VersionStatus
from cds_server.inference.session import DEFAULT_PROVIDER_CHAIN
from cds_server.inference.verify import ArtifactProblem
from cds_server.inference.verify import verify_artifacts

if TYPE_CHECKING:
    from cds_server.inference.reference import BuildResult


def build_reference_models(out_dir: Path, *, synthea_dir: Path | None = None) -> list[BuildResult]:
    """Rebuild the four reference models into ``out_dir`` (``cds-server models build``).

    Needs the build tools (scikit-learn, skl2onnx, onnx: the ``test`` extra) and the Synthea
    sample bundles for the equation models' reference distributions; see
    :func:`cds_server.inference.reference.build_reference_models`.
    """
    # Imported on use: the build tools are not runtime dependencies of the server.
    from cds_server.inference.reference import build_reference_models as build

    return build(out_dir, synthea_dir=synthea_dir)


__all__ = [
    "DEFAULT_PROVIDER_CHAIN",
    "DEPLOYMENTS_ENV",
    "PROVIDERS_ENV",
    "ApplicableRange",
    "ArtifactProblem",
    "BatchPrediction",
    "Deployment",
    "DeploymentOverride",
    "InputSpec",
    "ModelCard",
    "ModelInputError",
    "ModelNotReady",
    "ModelRegistry",
    "ModelStatus",
    "OutputSpec",
    "Prediction",
    "ReloadReport",
    "SourceAttribute",
    "Threshold",
    "UnknownModel",
    "VersionStatus",
    "build_reference_models",
    "check_applicability",
    "overrides_from_env",
    "providers_from_env",
    "verify_artifacts",
]
