"""Scores written back to the FHIR server as ``RiskAssessment`` resources, in transaction Bundles.

Each RiskAssessment has an id derived from the job, the patient and the output, and is written with
``PUT``: a chunk retried after a crash rewrites the same resources instead of adding copies. Every
resource is validated against FHIR R4 (``fhir.resources.R4B``) before it is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.riskassessment import RiskAssessment

from cds_server.inference import ModelCard

MODEL_SYSTEM = "urn:cds-server:model"
JOB_SYSTEM = "urn:cds-server:job"


class WriteBackError(Exception):
    """The server refused the transaction or answered it with an entry that failed."""


def assessment_id(job_id: str, patient_id: str, output: str) -> str:
    digest = hashlib.sha256(f"{job_id}|{patient_id}|{output}".encode()).hexdigest()
    return f"cds-{digest[:40]}"


def risk_assessment(
    *, job_id: str, patient_id: str, card: ModelCard, output: str, value: float, as_of: datetime
) -> dict[str, Any]:
    """One RiskAssessment: a probability (unit ``1``, 0-1) as ``probabilityDecimal``, else as text."""
    spec = next(spec for spec in card.outputs if spec.name == output)
    prediction: dict[str, Any] = {"outcome": {"text": spec.description[:500]}}
    if spec.unit == "1" and 0.0 <= value <= 1.0:
        prediction["probabilityDecimal"] = round(value, 6)
    else:
        unit = spec.unit.strip("{}")
        prediction["qualitativeRisk"] = {
            "text": f"{output} {value:g}{f' {unit}' if unit not in ('', '1') else ''}"
        }
    resource = {
        "resourceType": "RiskAssessment",
        "id": assessment_id(job_id, patient_id, output),
        "identifier": [{"system": JOB_SYSTEM, "value": f"{job_id}/{patient_id}/{output}"}],
        "status": "final",
        "subject": {"reference": f"Patient/{patient_id}"},
        "occurrenceDateTime": as_of.isoformat(),
        "method": {
            "coding": [{"system": MODEL_SYSTEM, "code": card.id, "display": f"{card.name} {card.version}"}],
            "text": f"{card.name} {card.version}",
        },
        "prediction": [prediction],
        "note": [
            {"text": f"Computed by cds-server, model {card.id} {card.version} (sha256 {card.sha256[:12]})."}
        ],
    }
    RiskAssessment.model_validate(resource)
    return resource


def transaction(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"RiskAssessment/{resource['id']}",
                "resource": dict(resource),
                "request": {"method": "PUT", "url": f"RiskAssessment/{resource['id']}"},
            }
            for resource in resources
        ],
    }
    Bundle.model_validate(bundle)
    return bundle


def check_response(response: Mapping[str, Any], expected: int) -> None:
    """:raise WriteBackError: not a transaction-response, wrong length, or an entry that did not succeed."""
    if response.get("resourceType") != "Bundle" or response.get("type") != "transaction-response":
        raise WriteBackError("not-a-transaction-response")
    entries = response.get("entry") or []
    if len(entries) != expected:
        raise WriteBackError("transaction-response-length")
    for entry in entries:
        status = str((entry.get("response") or {}).get("status", ""))
        if status[:3] not in ("200", "201"):
            raise WriteBackError("transaction-entry-failed")
