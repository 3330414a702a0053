"""The compact chart summary shown above the cards: who, latest vitals and labs, problems, medications."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from datetime import datetime
from typing import Any

LOINC = "http://loinc.org"
#: (label, LOINC codes, component code of a panel or None)
SHOWN_OBSERVATIONS: tuple[tuple[str, tuple[str, ...], str | None], ...] = (
    ("Systolic BP", ("55284-4", "85354-9"), "8480-6"),
    ("Diastolic BP", ("55284-4", "85354-9"), "8462-4"),
    ("BMI", ("39156-5",), None),
    ("Total cholesterol", ("2093-3",), None),
    ("HDL cholesterol", ("2085-9",), None),
    ("LDL cholesterol", ("18262-6", "13457-7"), None),
    ("Triglycerides", ("2571-8",), None),
    ("HbA1c", ("4548-4",), None),
    ("Glucose", ("2339-0", "2345-7"), None),
    ("eGFR", ("33914-3", "98979-8", "62238-1"), None),
)


def _loinc(concept: dict[str, Any] | None) -> set[str]:
    return {c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == LOINC}


def _display(concept: dict[str, Any] | None) -> str:
    concept = concept or {}
    codings = concept.get("coding") or [{}]
    return str(concept.get("text") or codings[0].get("display") or codings[0].get("code") or "?")


#: UCUM codes as a chart prints them (the codes stay in the data; this is display only)
DISPLAY_UNITS = {
    "mm[Hg]": "mmHg",
    "kg/m2": "kg/m²",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "Cel": "°C",
    "[degF]": "°F",
    "{beats}/min": "/min",
}


def _quantity(value: dict[str, Any]) -> str:
    number = value.get("value")
    text = f"{number:.1f}" if isinstance(number, float) and not float(number).is_integer() else str(number)
    unit = str(value.get("unit", ""))
    return f"{text} {DISPLAY_UNITS.get(unit, unit)}".strip()


def summarise(chart: Sequence[dict[str, Any]], *, now: datetime) -> dict[str, Any]:
    patient = next(r for r in chart if r.get("resourceType") == "Patient")
    observations = sorted(
        (
            r
            for r in chart
            if r.get("resourceType") == "Observation" and r.get("status") in ("final", "amended")
        ),
        key=lambda r: str(r.get("effectiveDateTime", "")),
        reverse=True,
    )
    latest: list[dict[str, str]] = []
    for label, codes, component_code in SHOWN_OBSERVATIONS:
        for observation in observations:
            if not _loinc(observation.get("code")) & set(codes):
                continue
            if component_code:
                parts = [
                    c for c in observation.get("component", []) if component_code in _loinc(c.get("code"))
                ]
                value = parts[0].get("valueQuantity") if parts else None
            else:
                value = observation.get("valueQuantity")
            if value:
                latest.append(
                    {
                        "label": label,
                        "value": _quantity(value),
                        "date": str(observation.get("effectiveDateTime", ""))[:10],
                    }
                )
                break
    conditions = [
        {"display": _display(r.get("code")), "since": str(r.get("onsetDateTime", ""))[:10]}
        for r in chart
        if r.get("resourceType") == "Condition"
        and "active" in {c.get("code") for c in (r.get("clinicalStatus") or {}).get("coding", [])}
    ]
    medications = [
        {"display": _display(r.get("medicationCodeableConcept")), "since": str(r.get("authoredOn", ""))[:10]}
        for r in chart
        if r.get("resourceType") == "MedicationRequest" and r.get("status") == "active"
    ]
    names = patient.get("name") or [{}]
    name = " ".join([*names[0].get("given", []), names[0].get("family", "")]).strip()
    return {
        "id": patient["id"],
        "name": name,
        "gender": patient.get("gender"),
        "birthDate": patient.get("birthDate"),
        "age": _age(patient.get("birthDate"), now.date()),
        "latest": latest,
        "conditions": conditions,
        "medications": medications,
    }


def _age(birth_date: str | None, today: date) -> int | None:
    if not birth_date:
        return None
    born = date.fromisoformat(birth_date[:10])
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
