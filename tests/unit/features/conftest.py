"""Fixtures for the feature-mapping tests: the shipped mappings, throwaway specs, Synthea data."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cds_server.features import MappingRegistry
from cds_server.features import load_mappings
from cds_server.features.mapping import CompiledMapping

REPO_ROOT = Path(__file__).resolve().parents[3]
MAPPINGS_DIR = REPO_ROOT / "fhir_mappings"
NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def shared_dir() -> Path:
    """``shared/`` next to the repository, or wherever ``CDS_SHARED_DIR`` points."""
    override = os.environ.get("CDS_SHARED_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared"


def synthea_files() -> list[Path]:
    return sorted((shared_dir() / "data" / "synthea-r4").glob("*.json"))


@pytest.fixture(scope="session")
def registry() -> MappingRegistry:
    return load_mappings(MAPPINGS_DIR)


SpecFactory = Callable[..., CompiledMapping]


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """A mapping directory with the real schema, synonyms and value sets but no specs yet."""
    for support in ("schema", "units", "valuesets"):
        shutil.copytree(MAPPINGS_DIR / support, tmp_path / support)
    return tmp_path


@pytest.fixture
def compile_spec(spec_dir: Path) -> SpecFactory:
    """Write a spec (YAML text) into ``spec_dir`` as ``<name>.yaml`` and load it."""

    def compile_(text: str, name: str = "test_spec") -> CompiledMapping:
        (spec_dir / f"{name}.yaml").write_text(text, encoding="utf-8")
        return load_mappings(spec_dir).get(name)

    return compile_


# --- small FHIR builders, used by many tests ----------------------------------------------------

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def quantity(value: Any, unit: str, *, code: str | None = None, system: str | None = UCUM) -> dict[str, Any]:
    out: dict[str, Any] = {"value": value, "unit": unit}
    if system is not None:
        out["system"] = system
        out["code"] = code or unit
    elif code is not None:
        out["code"] = code
    return out


def observation(
    oid: str,
    code: str,
    when: str | None,
    value: dict[str, Any] | None = None,
    *,
    status: str = "final",
    subject: str = "Patient/p1",
    system: str = LOINC,
    **extra: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": subject},
    }
    if when is not None:
        resource["effectiveDateTime"] = when
    if value is not None:
        resource["valueQuantity"] = value
    resource.update(extra)
    return resource


def bundle(*resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
        **extra,
    }


def prefetch_from_resources(
    mapping: CompiledMapping,
    resources: list[dict[str, Any]],
    *,
    omit: tuple[str, ...] = (),
    null: tuple[str, ...] = (),
    strict: bool = True,
) -> dict[str, Any]:
    """Split resources into the mapping's prefetch keys by type, as an EHR would answer them.

    Medications go into the MedicationRequest search as ``_include``d entries. Resources of a
    type no key searches are an error when ``strict`` (a fixture mistake), dropped otherwise.
    """
    by_type: dict[str, str] = {}
    for key, template in mapping.templates.items():
        by_type.setdefault(template.resource_type, key)
    prefetch: dict[str, Any] = {}
    for key, template in mapping.templates.items():
        if template.resource_type != "Patient":
            prefetch[key] = bundle()
    for resource in resources:
        resource_type = resource["resourceType"]
        searched = "MedicationRequest" if resource_type == "Medication" else resource_type
        if searched not in by_type and not strict:
            continue
        target = by_type[searched]
        if resource_type == "Patient":
            prefetch[target] = resource
            continue
        full_url = f"https://ehr.example/fhir/{resource_type}/{resource['id']}"
        prefetch[target]["entry"].append({"fullUrl": full_url, "resource": resource})
    for key in omit:
        prefetch.pop(key, None)
    for key in null:
        prefetch[key] = None
    return prefetch


def as_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False, sort_keys=True)
