"""The bundled demo patients as FHIR resources, optionally moved so their last visit is "now"."""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

from cds_server.demo.dates import latest_observation_time
from cds_server.demo.dates import shift_dates

PATIENTS_DIR = Path(__file__).resolve().parent / "patients"
#: how long before "now" the shifted chart's last observations were taken: inside NEWS2's 24 hours
LAST_VISIT_BEFORE_NOW = timedelta(hours=2)


@dataclass(frozen=True)
class DemoPatient:
    name: str
    path: Path

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


def demo_patients(folder: Path = PATIENTS_DIR) -> list[DemoPatient]:
    """Every ``<First>_<Last>_<uuid>.json[.gz]`` bundle in ``folder``, by name."""
    found = sorted(folder.glob("*.json.gz")) + sorted(folder.glob("*.json"))
    return [DemoPatient("_".join(path.name.split("_")[:2]), path) for path in found]


@functools.cache
def _bundle_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def chart(patient: DemoPatient, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The patient's resources with ``urn:uuid:`` references as ``Type/id``.

    With ``now``, every date moves by whole days so the latest Observation falls just before ``now``.
    """
    bundle = json.loads(_bundle_text(patient.path))
    text = json.dumps(bundle)
    for entry in bundle["entry"]:
        full_url = entry.get("fullUrl", "")
        if full_url.startswith("urn:uuid:"):
            resource = entry["resource"]
            text = text.replace(f'"{full_url}"', f'"{resource["resourceType"]}/{resource["id"]}"')
    resources: list[dict[str, Any]] = [entry["resource"] for entry in json.loads(text)["entry"]]
    if now is None:
        return resources
    latest = latest_observation_time(resources)
    if latest is None:
        return resources
    days = (now - LAST_VISIT_BEFORE_NOW - latest).days
    shifted: list[dict[str, Any]] = shift_dates(resources, days)
    return shifted


def put_transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle that creates or replaces each resource under its own id."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }
