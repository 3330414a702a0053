"""The model repository on disk, read and checked file by file.

Layout (Triton-like; see model_artifacts/README.md)::

    <models_dir>/
      schema/model-card.schema.json     (exported copy of card_schema.CARD_SCHEMA, for tooling)
      <model-id>/deployment.yaml
      <model-id>/<version>/model.onnx
      <model-id>/<version>/model-card.yaml

Everything here raises :class:`ArtifactError` naming the offending file, so the same functions
serve start-up (the model stays not-ready with that reason) and :func:`verify_artifacts`
(``cds-server models verify``, every problem listed).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from cds_server.inference.card import CardError
from cds_server.inference.card import ModelCard
from cds_server.inference.card import parse_card
from cds_server.inference.card_schema import CARD_SCHEMA
from cds_server.inference.errors import ArtifactError

CARD_FILE = "model-card.yaml"
SCHEMA_DIR = "schema"
MODEL_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True, slots=True)
class VersionArtifacts:
    """A version whose card is valid and whose model bytes match the card's sha256."""

    card: ModelCard
    model_bytes: bytes
    model_path: Path


class CardSchema:
    """Validates card documents against :data:`~cds_server.inference.card_schema.CARD_SCHEMA`."""

    def __init__(self) -> None:
        self._validator = Draft202012Validator(CARD_SCHEMA)

    def problem(self, document: Any) -> str | None:
        """The most relevant violation, with its location in the card; ``None`` when valid."""
        error = best_match(self._validator.iter_errors(document))
        if error is None:
            return None
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        return f"{where}: {error.message}"


def model_dirs(models_dir: Path) -> list[Path]:
    """Model directories, sorted; ``schema/`` and hidden entries are not models."""
    if not models_dir.is_dir():
        raise ArtifactError(models_dir, "not a directory")
    return sorted(
        entry
        for entry in models_dir.iterdir()
        if entry.is_dir() and not entry.name.startswith(".") and entry.name != SCHEMA_DIR
    )


def version_dirs(model_dir: Path) -> list[Path]:
    return sorted(entry for entry in model_dir.iterdir() if entry.is_dir() and not entry.name.startswith("."))


def read_version(version_dir: Path, schema: CardSchema) -> VersionArtifacts:
    """Read and check one version directory: its card, then its model file.

    :raise ArtifactError: naming the card or the model file.
    """
    return read_model(version_dir, read_card(version_dir, schema))


def read_card(version_dir: Path, schema: CardSchema) -> ModelCard:
    """The version's card, valid against the schema and itself and filed under its own id/version."""
    card_path = version_dir / CARD_FILE
    card = _parse_card(card_path, _read_bytes(card_path), schema)
    model_id, version = version_dir.parent.name, version_dir.name
    if card.id != model_id or card.version != version:
        raise ArtifactError(
            card_path, f"card says {card.id} {card.version} but lives in {model_id}/{version}/"
        )
    return card


def read_model(version_dir: Path, card: ModelCard) -> VersionArtifacts:
    """The model bytes the card describes, refused unless their sha256 is the one the card pins."""
    model_path = version_dir / card.artifact_file
    model_bytes = _read_bytes(model_path)
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != card.sha256:
        raise ArtifactError(model_path, f"sha256 mismatch: card pins {card.sha256}, file has {actual}")
    return VersionArtifacts(card=card, model_bytes=model_bytes, model_path=model_path)


def directory_fingerprint(version_dir: Path) -> str:
    """A digest of every file in a version directory: equal digests mean nothing to reload."""
    digest = hashlib.sha256()
    if not version_dir.is_dir():
        return "absent"
    for path in sorted(version_dir.iterdir()):
        if path.is_file():
            digest.update(path.name.encode() + b"\0")
            try:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ArtifactError(path, "missing") from None
    except OSError as error:
        raise ArtifactError(path, f"unreadable: {error.strerror}") from None


def _parse_card(path: Path, raw: bytes, schema: CardSchema) -> ModelCard:
    try:
        document = yaml.safe_load(raw.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as error:
        raise ArtifactError(path, f"not valid YAML: {error}") from None
    problem = schema.problem(document)
    if problem is not None:
        raise ArtifactError(path, f"does not match the card schema: {problem}")
    try:
        return parse_card(document)
    except CardError as error:
        raise ArtifactError(path, f"inconsistent card: {error}") from None
