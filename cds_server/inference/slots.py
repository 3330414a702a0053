"""What the registry holds per model: the deployment, the loaded versions, and why any is not ready.

Slots are immutable. A reload builds new ones, reusing a loaded version whose files are unchanged
(same directory fingerprint, same provider chain), so an unchanged model keeps its session.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

from cds_server.inference.artifacts import CardSchema
from cds_server.inference.artifacts import directory_fingerprint
from cds_server.inference.artifacts import read_card
from cds_server.inference.artifacts import read_model
from cds_server.inference.card import ModelCard
from cds_server.inference.deployment import Deployment
from cds_server.inference.errors import ArtifactError
from cds_server.inference.loader import LoadedVersion
from cds_server.inference.loader import open_version
from cds_server.inference.results import ModelStatus
from cds_server.inference.results import VersionStatus


@dataclass(frozen=True)
class VersionSlot:
    version: str
    fingerprint: str
    card: ModelCard | None = None
    loaded: LoadedVersion | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ModelSlot:
    model_id: str
    deployment: Deployment | None
    providers: tuple[str, ...]
    active: VersionSlot | None
    shadows: tuple[VersionSlot, ...]
    reason: str | None

    @property
    def ready(self) -> bool:
        return self.active is not None and self.active.loaded is not None

    @property
    def signature(self) -> tuple[Any, ...]:
        """Everything that, when unchanged on disk and in configuration, makes a reload a no-op."""
        versions = tuple(slot.fingerprint for slot in (self.active, *self.shadows) if slot is not None)
        return (self.deployment, self.providers, self.reason if self.deployment is None else None, versions)


def load_version(
    version_dir: Path,
    schema: CardSchema,
    providers: tuple[str, ...],
    before: VersionSlot | None,
) -> VersionSlot:
    version = version_dir.name
    fingerprint = directory_fingerprint(version_dir)
    if before is not None and before.fingerprint == fingerprint and before.loaded is not None:
        return before
    if not version_dir.is_dir():
        return VersionSlot(version, fingerprint, reason=f"{version_dir}: deployed version does not exist")
    try:
        card = read_card(version_dir, schema)
    except ArtifactError as error:
        return VersionSlot(version, fingerprint, reason=str(error))
    try:
        loaded = open_version(read_model(version_dir, card), providers=providers)
    except ArtifactError as error:
        return VersionSlot(version, fingerprint, card=card, reason=str(error))
    return VersionSlot(version, fingerprint, card=card, loaded=loaded)


def check_same_inputs(shadow: VersionSlot, active: VersionSlot) -> VersionSlot:
    # A shadow runs on the active version's feature rows, so it must read them the same way.
    if shadow.card is None or active.card is None or shadow.loaded is None:
        return shadow
    if (shadow.card.input_tensor, shadow.card.input_names) != (
        active.card.input_tensor,
        active.card.input_names,
    ):
        return replace(
            shadow, loaded=None, reason=f"input contract differs from the active version {active.version}"
        )
    return shadow


def loaded_version(version_slot: VersionSlot | None) -> LoadedVersion:
    assert version_slot is not None
    assert version_slot.loaded is not None
    return version_slot.loaded


def status_of(slot: ModelSlot) -> ModelStatus:
    active = slot.active
    return ModelStatus(
        model_id=slot.model_id,
        ready=slot.ready,
        active_version=active.version if active is not None else None,
        provider=active.loaded.provider if active is not None and active.loaded is not None else None,
        sha256=active.card.sha256 if active is not None and active.card is not None else None,
        reason=slot.reason,
        shadow=tuple(
            VersionStatus(
                version=shadow.version,
                ready=shadow.loaded is not None,
                provider=shadow.loaded.provider if shadow.loaded is not None else None,
                sha256=shadow.card.sha256 if shadow.card is not None else None,
                reason=shadow.reason,
            )
            for shadow in slot.shadows
        ),
    )
