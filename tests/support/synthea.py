"""The Synthea R4 patients of ``shared/data/synthea-r4``: lookup, resources, transaction rewriting."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from tests.support.paths import SYNTHEA_DIR


@functools.cache
def bundle_files() -> tuple[Path, ...]:
    files = tuple(sorted(SYNTHEA_DIR.glob("*.json")))
    if not files:
        raise FileNotFoundError(f"no Synthea bundles under {SYNTHEA_DIR} (set CDS_SHARED_DIR)")
    return files


def bundle_file(name: str) -> Path:
    """The bundle of the patient whose file name starts with ``name`` (e.g. ``"Dirk_Kuhlman"``)."""
    for path in bundle_files():
        if path.name.startswith(name):
            return path
    raise KeyError(name)


@functools.cache
def _load(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_bundle(name_or_path: str | Path) -> dict[str, Any]:
    path = name_or_path if isinstance(name_or_path, Path) else bundle_file(name_or_path)
    bundle: dict[str, Any] = json.loads(_load(path))
    return bundle


def resources(name: str, resource_type: str | None = None) -> list[dict[str, Any]]:
    """The patient's resources with ``urn:uuid:`` references rewritten to ``Type/id``."""
    bundle = as_put_transaction(load_bundle(name))
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if resource_type is None or entry["resource"]["resourceType"] == resource_type
    ]


def patient(name: str) -> dict[str, Any]:
    return resources(name, "Patient")[0]


def patient_id(name: str) -> str:
    return str(patient(name)["id"])


def as_put_transaction(bundle: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a Synthea POST transaction so a FHIR server keeps the resources' ids.

    ``urn:uuid:`` references become ``Type/id`` and every entry becomes ``PUT Type/id``.
    """
    text = json.dumps(bundle)
    for entry in bundle["entry"]:
        full_url = entry.get("fullUrl", "")
        if full_url.startswith("urn:uuid:"):
            resource = entry["resource"]
            text = text.replace(f'"{full_url}"', f'"{resource["resourceType"]}/{resource["id"]}"')
    rewritten: dict[str, Any] = json.loads(text)
    for entry in rewritten["entry"]:
        resource = entry["resource"]
        entry["fullUrl"] = f"{resource['resourceType']}/{resource['id']}"
        entry["request"] = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    return rewritten


def searchset(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in entries],
    }
