"""What the registry hands back: predictions, readiness, reload outcomes. Plain immutable values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Prediction:
    """One row scored by one model version.

    ``usable`` is the only flag a card builder needs: a prediction with non-finite numbers or
    inputs outside the card's applicability limits must not become a score on a card.
    ``shadow`` holds the shadow versions' predictions on the same inputs: record them, never show
    them. ``shadow_errors`` maps a shadow version to why it produced nothing; a shadow never
    affects the active result.
    """

    model_id: str
    version: str
    sha256: str
    provider: str
    inputs: Mapping[str, float]
    outputs: Mapping[str, float]
    non_finite: bool
    inapplicable: tuple[str, ...] = ()
    shadow: tuple[Prediction, ...] = ()
    shadow_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return not self.non_finite and not self.inapplicable


@dataclass(frozen=True)
class BatchPrediction:
    """N rows scored at once (jobs). Per-row flags are arrays / tuples aligned with the rows."""

    model_id: str
    version: str
    sha256: str
    provider: str
    outputs: Mapping[str, NDArray[np.float64]]
    non_finite: NDArray[np.bool_]
    inapplicable: tuple[tuple[str, ...], ...]
    shadow: tuple[BatchPrediction, ...] = ()
    shadow_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> NDArray[np.bool_]:
        applicable = np.array([not reasons for reasons in self.inapplicable], dtype=bool)
        usable: NDArray[np.bool_] = np.logical_and(~self.non_finite, applicable)
        return usable


@dataclass(frozen=True, slots=True)
class VersionStatus:
    version: str
    ready: bool
    provider: str | None
    sha256: str | None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "ready": self.ready,
            "provider": self.provider,
            "sha256": self.sha256,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Readiness of one model: its active version decides; shadows are listed for operators."""

    model_id: str
    ready: bool
    active_version: str | None
    provider: str | None
    sha256: str | None
    reason: str | None
    shadow: tuple[VersionStatus, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "ready": self.ready,
            "active_version": self.active_version,
            "provider": self.provider,
            "sha256": self.sha256,
            "reason": self.reason,
            "shadow": [status.as_dict() for status in self.shadow],
        }


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What a reload did, per model id.

    ``kept_previous``: new artifacts or deployment were bad, so the model keeps serving what it
    served before (value: why the new ones were refused). ``not_ready``: bad, with nothing to fall
    back on.
    """

    loaded: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    kept_previous: Mapping[str, str] = field(default_factory=dict)
    not_ready: Mapping[str, str] = field(default_factory=dict)
    removed: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.kept_previous and not self.not_ready
