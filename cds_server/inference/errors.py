"""Errors raised by the model runtime.

:class:`~cds_server.errors.ModelNotReady` (503) comes from the shared tree. The two added here are
server-side faults, not client faults: a service asked for a model that does not exist, or handed
it features that do not match the model card's input contract (a mapping/model mismatch).
:class:`ArtifactError` never reaches HTTP: it explains why an artifact could not be loaded and
ends up as the ``reason`` of a not-ready model or as an :class:`ArtifactProblem`.
"""

from __future__ import annotations

from pathlib import Path

from cds_server.errors import CdsError


class UnknownModel(CdsError):
    """No model with this id (or version) is configured."""

    code = "unknown-model"
    default_message = "No model with this id is configured on this server."


class ModelInputError(CdsError, ValueError):
    """The feature array does not match the model card's input contract (shape or dtype)."""

    code = "model-input-mismatch"
    default_message = "The features do not match the model's input contract."


class ArtifactError(Exception):
    """One artifact file is missing, unreadable, inconsistent or rejected by onnxruntime."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
