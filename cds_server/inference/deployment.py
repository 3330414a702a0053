"""Which version of a model answers, which run in shadow, and where they run.

Each model directory holds ``deployment.yaml``::

    active: 1.0.0            # the version whose outputs callers see
    shadow: [1.1.0]          # run on the same inputs, returned separately, never shown
    providers: [CPUExecutionProvider]   # optional: this model's provider chain

An operator overrides any of it without touching the files, through ``CDS_MODEL_DEPLOYMENTS``
(JSON, ``{"<model-id>": {"active": "...", "shadow": [...], "providers": [...]}}``); the
registry-wide provider chain comes from ``CDS_MODEL_PROVIDERS`` (a JSON list or comma-separated
names). Keys given in an override replace the file's; keys left out keep it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from cds_server.inference.errors import ArtifactError

DEPLOYMENT_FILE = "deployment.yaml"
DEPLOYMENTS_ENV = "CDS_MODEL_DEPLOYMENTS"
PROVIDERS_ENV = "CDS_MODEL_PROVIDERS"


@dataclass(frozen=True, slots=True)
class Deployment:
    active: str
    shadow: tuple[str, ...] = ()
    providers: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class DeploymentOverride:
    active: str | None = None
    shadow: tuple[str, ...] | None = None
    providers: tuple[str, ...] | None = None


def read_deployment(path: Path) -> Deployment:
    """Parse one ``deployment.yaml``.

    :raise ArtifactError: the file is missing, not YAML, or not a valid deployment.
    """
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(path, "missing: every model directory needs a deployment.yaml") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ArtifactError(path, f"unreadable: {error}") from None
    try:
        return _deployment_from(document)
    except ValueError as error:
        raise ArtifactError(path, str(error)) from None


def with_override(deployment: Deployment, override: DeploymentOverride | None) -> Deployment:
    """The deployment with the override's given keys applied, re-validated."""
    if override is None:
        return deployment
    changes: dict[str, Any] = {
        key: value
        for key, value in (
            ("active", override.active),
            ("shadow", override.shadow),
            ("providers", override.providers),
        )
        if value is not None
    }
    merged = replace(deployment, **changes)
    # A shadow version promoted to active by an override must not also run as its own shadow.
    merged = replace(merged, shadow=tuple(version for version in merged.shadow if version != merged.active))
    _check_versions(merged.active, merged.shadow)
    return merged


def overrides_from_env(environ: Mapping[str, str]) -> dict[str, DeploymentOverride]:
    """Read ``CDS_MODEL_DEPLOYMENTS``; an absent or empty variable means no overrides.

    :raise ValueError: the variable is set but is not the documented JSON shape (fail at start-up
        rather than silently serve a version the operator did not choose).
    """
    raw = environ.get(DEPLOYMENTS_ENV, "").strip()
    if not raw:
        return {}
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{DEPLOYMENTS_ENV} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{DEPLOYMENTS_ENV} must be a JSON object keyed by model id")
    overrides: dict[str, DeploymentOverride] = {}
    for model_id, entry in document.items():
        if not isinstance(entry, dict) or set(entry) - {"active", "shadow", "providers"}:
            raise ValueError(f"{DEPLOYMENTS_ENV}[{model_id!r}] may only set active, shadow and providers")
        overrides[model_id] = DeploymentOverride(
            active=_optional_text(entry.get("active"), f"{model_id}.active"),
            shadow=_optional_names(entry.get("shadow"), f"{model_id}.shadow"),
            providers=_optional_names(entry.get("providers"), f"{model_id}.providers"),
        )
    return overrides


def providers_from_env(environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """Read ``CDS_MODEL_PROVIDERS`` (JSON list or comma-separated); ``None`` when unset."""
    raw = environ.get(PROVIDERS_ENV, "").strip()
    if not raw:
        return None
    if raw.startswith("["):
        names = _optional_names(json.loads(raw), PROVIDERS_ENV)
        assert names is not None
        return names
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _deployment_from(document: object) -> Deployment:
    if not isinstance(document, dict):
        raise ValueError("must be a mapping with at least 'active'")
    unknown = set(document) - {"active", "shadow", "providers"}
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}")
    active = _optional_text(document.get("active"), "active")
    if active is None:
        raise ValueError("'active' (the version that answers) is required")
    shadow = _optional_names(document.get("shadow"), "shadow") or ()
    _check_versions(active, shadow)
    return Deployment(
        active=active, shadow=shadow, providers=_optional_names(document.get("providers"), "providers")
    )


def _check_versions(active: str, shadow: Sequence[str]) -> None:
    if active in shadow:
        raise ValueError(f"version {active} cannot be both active and shadow")
    if len(set(shadow)) != len(shadow):
        raise ValueError("shadow versions are listed twice")


def _optional_text(value: object, what: str) -> str | None:
    if value is None:
        return None
    # YAML reads `active: 1.10` as the float 1.1; refuse numbers rather than guess the version.
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a version string (quote it in YAML: '1.10', not 1.10)")
    return value.strip()


def _optional_names(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(item.strip() for item in value)
