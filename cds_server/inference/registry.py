"""The model registry: every deployed model version, loaded once, checked, and ready to score.

One bad model never takes the others down: a missing, corrupt or mismatched file leaves *that*
model not-ready with the reason, and :meth:`ModelRegistry.status` says so for readiness checks.
A reload swaps in changed artifacts without a restart, and keeps serving the previous version of a
model when its new artifacts are bad.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from typing import TypeVar

from numpy.typing import NDArray

from cds_server.errors import ModelNotReady
from cds_server.inference.artifacts import CardSchema
from cds_server.inference.artifacts import model_dirs
from cds_server.inference.card import ModelCard
from cds_server.inference.deployment import DEPLOYMENT_FILE
from cds_server.inference.deployment import DeploymentOverride
from cds_server.inference.deployment import overrides_from_env
from cds_server.inference.deployment import providers_from_env
from cds_server.inference.deployment import read_deployment
from cds_server.inference.deployment import with_override
from cds_server.inference.errors import ArtifactError
from cds_server.inference.errors import UnknownModel
from cds_server.inference.loader import LoadedVersion
from cds_server.inference.results import BatchPrediction
from cds_server.inference.results import ModelStatus
from cds_server.inference.results import Prediction
from cds_server.inference.results import ReloadReport
from cds_server.inference.scoring import feature_matrix
from cds_server.inference.scoring import score_batch
from cds_server.inference.scoring import score_row
from cds_server.inference.session import DEFAULT_PROVIDER_CHAIN
from cds_server.inference.session import resolve_providers
from cds_server.inference.slots import ModelSlot
from cds_server.inference.slots import check_same_inputs
from cds_server.inference.slots import load_version
from cds_server.inference.slots import loaded_version
from cds_server.inference.slots import status_of

log = logging.getLogger(__name__)

Scored = TypeVar("Scored", Prediction, BatchPrediction)
#: ``(model id, version, provider, role, seconds)`` of one onnxruntime run (metrics)
InferenceObserver = Callable[[str, str, str, str, float], None]


class ModelRegistry:
    """All models of one repository. Thread-safe: predictions read an immutable snapshot that a
    reload replaces in one assignment."""

    def __init__(
        self, models_dir: Path, *, providers: Sequence[str], overrides: Mapping[str, DeploymentOverride]
    ) -> None:
        self._models_dir = models_dir
        self._providers = resolve_providers(providers)
        self._overrides = dict(overrides)
        self._slots: dict[str, ModelSlot] = {}
        self._reload_lock = threading.Lock()
        self._schema = CardSchema()
        self.last_report = ReloadReport()
        #: told how long each run took (set by the app to feed its metrics); ``None``: not timed
        self.observer: InferenceObserver | None = None

    @classmethod
    def load(
        cls,
        models_dir: Path,
        *,
        providers: Sequence[str] | None = None,
        overrides: Mapping[str, DeploymentOverride] | None = None,
    ) -> ModelRegistry:
        """Load every deployed model version under ``models_dir``.

        ``providers`` defaults to ``CDS_MODEL_PROVIDERS`` or CUDA then CPU; ``overrides`` defaults
        to ``CDS_MODEL_DEPLOYMENTS`` (pass ``{}`` to ignore the environment).

        :raise ArtifactError: ``models_dir`` is not a directory.
        :raise ValueError: the provider chain or the overrides are misconfigured.
        """
        chain = (
            providers if providers is not None else providers_from_env(os.environ) or DEFAULT_PROVIDER_CHAIN
        )
        registry = cls(
            models_dir,
            providers=chain,
            overrides=overrides if overrides is not None else overrides_from_env(os.environ),
        )
        model_dirs(models_dir)  # fail fast on a wrong path rather than serve no models
        registry.reload()
        return registry

    @property
    def models_dir(self) -> Path:
        return self._models_dir

    def status(self) -> dict[str, ModelStatus]:
        return {model_id: status_of(slot) for model_id, slot in self._slots.items()}

    def card(self, model_id: str, version: str | None = None) -> ModelCard:
        """The card of the active version, or of a deployed (active or shadow) ``version``.

        Available even when the model file is bad, as long as the card itself could be read.
        """
        slot = self._slot(model_id)
        deployed = {entry.version: entry for entry in (slot.active, *slot.shadows) if entry is not None}
        wanted = version if version is not None else slot.active.version if slot.active else None
        if wanted is None:
            raise ModelNotReady(f"The model {model_id!r} is not ready.")
        chosen = deployed.get(wanted)
        if chosen is None:
            raise UnknownModel(f"Model {model_id!r} has no deployed version {wanted!r}.")
        if chosen.card is None:
            raise ModelNotReady(f"The card of model {model_id!r} {wanted} could not be read.")
        return chosen.card

    def predict(self, model_id: str, features: NDArray[Any], *, with_shadow: bool = True) -> Prediction:
        """Score one row: ``features`` is ``(width,)`` (or ``(1, width)``) of the card's dtype.

        :raise UnknownModel: no such model.
        :raise ModelNotReady: the model's active version is not loaded.
        :raise ModelInputError: wrong shape or dtype (names the expected inputs).
        """
        slot = self._ready_slot(model_id)
        active = loaded_version(slot.active)
        matrix = feature_matrix(active.card, features, batch=False)
        prediction = self._timed(score_row, active, matrix, "active")
        if not with_shadow or not slot.shadows:
            return prediction
        shadows, errors = _run_shadows(slot, lambda v, m: self._timed(score_row, v, m, "shadow"), matrix)
        return replace(prediction, shadow=shadows, shadow_errors=errors)

    def predict_batch(
        self, model_id: str, features: NDArray[Any], *, with_shadow: bool = True
    ) -> BatchPrediction:
        """Score ``(batch, width)`` rows at once (jobs); outputs are vectors aligned with the rows."""
        slot = self._ready_slot(model_id)
        active = loaded_version(slot.active)
        matrix = feature_matrix(active.card, features, batch=True)
        prediction = self._timed(score_batch, active, matrix, "active")
        if not with_shadow or not slot.shadows:
            return prediction
        shadows, errors = _run_shadows(slot, lambda v, m: self._timed(score_batch, v, m, "shadow"), matrix)
        return replace(prediction, shadow=shadows, shadow_errors=errors)

    def _timed(
        self,
        score: Callable[[LoadedVersion, NDArray[Any]], Scored],
        loaded: LoadedVersion,
        matrix: NDArray[Any],
        role: str,
    ) -> Scored:
        observer = self.observer
        if observer is None:
            return score(loaded, matrix)
        started = time.perf_counter()
        result = score(loaded, matrix)
        observer(loaded.card.id, loaded.card.version, loaded.provider, role, time.perf_counter() - started)
        return result

    def reload(self) -> ReloadReport:
        """Re-read the repository; load what changed, keep the previous model where the new is bad."""
        with self._reload_lock:
            previous = self._slots
            try:
                directories = model_dirs(self._models_dir)
            except ArtifactError as error:
                directories = []
                log.error("model repository unavailable: %s", error)

            slots: dict[str, ModelSlot] = {}
            loaded: list[str] = []
            unchanged: list[str] = []
            kept: dict[str, str] = {}
            not_ready: dict[str, str] = {}
            for model_dir in directories:
                model_id = model_dir.name
                before = previous.get(model_id)
                candidate = self._load_model(model_dir, before)
                if before is not None and before.ready and not candidate.ready:
                    slots[model_id] = before
                    kept[model_id] = candidate.reason or "not ready"
                    log.error(
                        "model %s: new artifacts refused, still serving the previous ones: %s",
                        model_id,
                        candidate.reason,
                    )
                    continue
                slots[model_id] = candidate
                if not candidate.ready:
                    not_ready[model_id] = candidate.reason or "not ready"
                elif before is not None and before.signature == candidate.signature:
                    unchanged.append(model_id)
                    continue
                else:
                    loaded.append(model_id)
                _log_slot(candidate)
            for model_id in self._overrides.keys() - slots.keys():
                log.warning(
                    "%s names model %s, which is not in %s",
                    "CDS_MODEL_DEPLOYMENTS",
                    model_id,
                    self._models_dir,
                )

            self._slots = slots
            self.last_report = ReloadReport(
                loaded=tuple(loaded),
                unchanged=tuple(unchanged),
                kept_previous=kept,
                not_ready=not_ready,
                removed=tuple(sorted(previous.keys() - slots.keys())),
            )
            return self.last_report

    def _slot(self, model_id: str) -> ModelSlot:
        slot = self._slots.get(model_id)
        if slot is None:
            raise UnknownModel(f"No model {model_id!r} is configured.")
        return slot

    def _ready_slot(self, model_id: str) -> ModelSlot:
        slot = self._slot(model_id)
        if not slot.ready:
            # The reason names server files; it goes to status() and the log, not to HTTP clients.
            raise ModelNotReady(f"The model {model_id!r} is not ready.")
        return slot

    def _load_model(self, model_dir: Path, before: ModelSlot | None) -> ModelSlot:
        model_id = model_dir.name
        try:
            deployment = with_override(
                read_deployment(model_dir / DEPLOYMENT_FILE), self._overrides.get(model_id)
            )
            providers = resolve_providers(deployment.providers) if deployment.providers else self._providers
        except (ArtifactError, ValueError) as error:
            return ModelSlot(
                model_id, None, self._providers, None, (), f"{model_dir / DEPLOYMENT_FILE}: {_text(error)}"
            )
        reusable = {
            version_slot.version: version_slot
            for version_slot in ((before.active, *before.shadows) if before is not None else ())
            if version_slot is not None and before is not None and before.providers == providers
        }
        active = load_version(
            model_dir / deployment.active, self._schema, providers, reusable.get(deployment.active)
        )
        shadows = tuple(
            check_same_inputs(
                load_version(model_dir / version, self._schema, providers, reusable.get(version)), active
            )
            for version in deployment.shadow
        )
        reason = None if active.loaded is not None else active.reason
        return ModelSlot(model_id, deployment, providers, active, shadows, reason)


def _run_shadows(
    slot: ModelSlot, score: Callable[[LoadedVersion, NDArray[Any]], Scored], matrix: NDArray[Any]
) -> tuple[tuple[Scored, ...], dict[str, str]]:
    """Each shadow's result on the active version's rows, and why the others gave none."""
    results: list[Scored] = []
    errors: dict[str, str] = {}
    for shadow in slot.shadows:
        if shadow.loaded is None:
            errors[shadow.version] = f"not ready: {shadow.reason}"
            continue
        try:
            results.append(score(shadow.loaded, matrix))
        except Exception as error:  # a shadow's failure must never reach the active result
            errors[shadow.version] = f"failed: {error}"
            log.warning("shadow %s %s failed: %s", slot.model_id, shadow.version, error)
    return tuple(results), errors


def _log_slot(slot: ModelSlot) -> None:
    if not slot.ready:
        log.error("model %s is not ready: %s", slot.model_id, slot.reason)
        return
    loaded = loaded_version(slot.active)
    log.info("model %s %s ready on %s", slot.model_id, loaded.card.version, loaded.provider)
    if loaded.provider != loaded.requested_providers[0]:
        log.warning(
            "model %s asked for %s but onnxruntime runs it on %s",
            slot.model_id,
            loaded.requested_providers[0],
            loaded.provider,
        )
    for shadow in slot.shadows:
        if shadow.loaded is None:
            log.error("model %s shadow %s is not ready: %s", slot.model_id, shadow.version, shadow.reason)


def _text(error: Exception) -> str:
    return error.problem if isinstance(error, ArtifactError) else str(error)
