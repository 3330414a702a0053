"""Small, valid FHIR R4 resources for tests that need a precise chart."""

from __future__ import annotations

import itertools
from typing import Any

_ids = itertools.count(1)

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def patient(patient_id: str, *, birth_date: str, gender: str, black: bool = False) -> dict[str, Any]:
    race = "2054-5" if black else "2106-3"
    display = "Black or African American" if black else "White"
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "gender": gender,
        "birthDate": birth_date,
        "extension": [
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [
                    {
                        "url": "ombCategory",
                        "valueCoding": {
                            "system": "urn:oid:2.16.840.1.113883.6.238",
                            "code": race,
                            "display": display,
                        },
                    },
                    {"url": "text", "valueString": display},
                ],
            }
        ],
    }


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def observation(
    patient_id: str, code: str, value: float, unit: str, when: str, **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, unit),
        **extra,
    }


def blood_pressure(patient_id: str, systolic: float, diastolic: float, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"bp-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": quantity(systolic, "mm[Hg]"),
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": quantity(diastolic, "mm[Hg]"),
            },
        ],
    }


def coded_observation(
    patient_id: str, code: str, value_system: str, value_code: str, when: str
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": f"obs-{next(_ids)}",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": value_system, "code": value_code}]},
    }


def smoking_status(patient_id: str, *, current: bool, when: str) -> dict[str, Any]:
    # 449868002 current every day smoker; 8517006 ex-smoker
    return coded_observation(patient_id, "72166-2", SNOMED, "449868002" if current else "8517006", when)


def condition(patient_id: str, snomed: str, onset: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": f"cond-{next(_ids)}",
        "clinicalStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
            ]
        },
        "verificationStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}
            ]
        },
        "code": {"coding": [{"system": SNOMED, "code": snomed}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "onsetDateTime": onset,
    }


def medication_request(
    patient_id: str, rxnorm: str, *, status: str = "active", intent: str = "order"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"med-{next(_ids)}",
        "status": status,
        "intent": intent,
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxnorm}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": "2020-01-01",
    }


def bundle(resources: list[dict[str, Any]], kind: str = "searchset") -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [{"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r} for r in resources],
    }
