"""The benchmark requests: real Synthea patients as CDS Hooks patient-view calls.

The reference request (issue "Performance") is a patient-view for Dirk_Kuhlman with his latest 200
Observations as prefetch, ~190 KB — the request the closest Python peer was measured on. The
model-backed services also declare conditions and medications, which go in as well, so each service
is answered from its prefetch without a FHIR call.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CDS_SHARED_DIR", REPO.parent / "shared"))
SYNTHEA = SHARED / "data" / "synthea-r4"
REFERENCE_PATIENT = "Dirk_Kuhlman"
#: Synthea data ends in 2020-2021; the clinical "now" of the benchmark calls
REFERENCE_TIME = "2020-06-01T00:00:00+00:00"


def patient_resources(name: str) -> list[dict[str, Any]]:
    """The patient's resources with urn:uuid references rewritten to Type/id."""
    path = next(SYNTHEA.glob(f"{name}_*.json"))
    bundle = json.loads(path.read_text())
    text = json.dumps(bundle)
    for entry in bundle["entry"]:
        if entry.get("fullUrl", "").startswith("urn:uuid:"):
            resource = entry["resource"]
            text = text.replace(f'"{entry["fullUrl"]}"', f'"{resource["resourceType"]}/{resource["id"]}"')
    return [entry["resource"] for entry in json.loads(text)["entry"]]


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in resources
        ],
    }


def _effective(resource: dict[str, Any]) -> str:
    return str(resource.get("effectiveDateTime") or resource.get("issued") or "")


def patient_view(
    name: str = REFERENCE_PATIENT, *, observations: int = 200, keys: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """A complete patient-view request: Patient, the latest N Observations, Conditions, MedicationRequests.

    ``keys`` keeps only the prefetch keys a service declares (the EHR sends a service its own only).
    """
    resources = patient_resources(name)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(resource["resourceType"], []).append(resource)
    patient = by_type["Patient"][0]
    latest = sorted(by_type.get("Observation", []), key=_effective, reverse=True)[:observations]
    prefetch = {
        "patient": patient,
        "observations": _searchset(latest),
        "conditions": _searchset(by_type.get("Condition", [])),
        "medications": _searchset(by_type.get("MedicationRequest", [])),
        # NEWS2's keys: vitals, conditions, procedures
        "vitals": _searchset(latest),
        "procedures": _searchset(by_type.get("Procedure", [])[:50]),
    }
    if keys is not None:
        prefetch = {key: value for key, value in prefetch.items() if key in keys}
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"userId": "Practitioner/bench", "patientId": patient["id"]},
        "prefetch": prefetch,
    }


def body_bytes(request: dict[str, Any], *, fresh_instance: bool = True) -> bytes:
    if fresh_instance:
        request = dict(request, hookInstance=str(uuid.uuid4()))
    return orjson.dumps(request)


def observations_only(request: dict[str, Any]) -> dict[str, Any]:
    """The peer's request shape exactly: Patient plus the Observation searchset (~190 KB)."""
    prefetch = request["prefetch"]
    return dict(request, prefetch={"patient": prefetch["patient"], "observations": prefetch["observations"]})
