"""Reference distributions for the equation models, from the 24 bundled Synthea R4 patients.

The published equations ship no training data, so their drift baseline has to come from
somewhere real. We use the project's Synthea sample (shared/data/synthea-r4, Apache-2.0): one
snapshot per visit with a total-cholesterol result, each input read as a CDS hook would see it
at that visit (the most recent value on or before the visit date). This is synthetic data from a
small sample, and the cards say so; a deploying site should replace it with its own baseline.

This is a deliberately small reader for one purpose, not the server's FHIR mapping layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

LOINC = "http://loinc.org"
TOTAL_CHOLESTEROL = "2093-3"
HDL_CHOLESTEROL = "2085-9"
SYSTOLIC_BP = "8480-6"
EGFR = "33914-3"
BMI = "39156-5"
SMOKING_STATUS = "72166-2"
CURRENT_SMOKER = {"449868002", "428041000124106", "428071000124103", "428061000124105"}
DIABETES = {"44054006", "73211009", "46635009"}
BLACK_OMB_CATEGORY = "2054-5"
#: The only antihypertensives in the sample (hydrochlorothiazide 25 mg and 6.25 mg).
ANTIHYPERTENSIVES = {"316049", "316052"}
STATINS = {"617312", "617310", "617311", "259255", "312961", "198211"}
#: A stopped prescription without an end date counts as taken for a year after it was written.
PRESCRIPTION_DAYS = 365

SOURCE = (
    "shared/data/synthea-r4: 24 Synthea R4 patients from smart-on-fhir/generated-sample-data (Apache-2.0)"
)
METHOD = (
    "One snapshot per visit with a total cholesterol result (LOINC 2093-3) of a patient inside the model's "
    "age range. Each input is the most recent value on or before that visit: HDL 2085-9, systolic BP 8480-6 "
    "(BP panel component), eGFR 33914-3, BMI 39156-5, smoking status 72166-2 (current = SNOMED "
    "449868002/428041000124106/428071000124103/428061000124105); diabetes = an active SNOMED "
    "44054006/73211009/46635009 condition; antihypertensive = RxNorm 316049/316052 (hydrochlorothiazide, "
    "the only ones in the sample) and statin = RxNorm 617312/617310/617311/259255/312961/198211, each "
    "prescribed on or before the visit and either active or written in the year before; race from the US "
    "Core race extension (OMB 2054-5 = Black). Quantiles are numpy's linear interpolation over snapshots, "
    "so patients with more visits weigh more."
)


@dataclass(frozen=True)
class Snapshot:
    patient: str
    age_years: int
    male: int
    black: int
    total_cholesterol: float
    hdl_cholesterol: float | None
    systolic_bp: float | None
    on_bp_treatment: int
    on_statin: int
    current_smoker: int
    diabetes: int
    egfr: float | None
    bmi: float | None


def lipid_visit_snapshots(synthea_dir: Path, *, min_age: int, max_age: int) -> list[Snapshot]:
    """Snapshots of every patient aged ``min_age``-``max_age`` at a total-cholesterol visit."""
    bundles = sorted(synthea_dir.glob("*.json"))
    if not bundles:
        raise FileNotFoundError(f"no Synthea bundles (*.json) in {synthea_dir}")
    snapshots: list[Snapshot] = []
    for path in bundles:
        record = _PatientRecord(json.loads(path.read_text(encoding="utf-8")))
        for visit, value in record.values(TOTAL_CHOLESTEROL):
            age = record.age_at(visit)
            if min_age <= age <= max_age:
                snapshots.append(record.snapshot(visit, age, float(value)))
    return snapshots


def distributions(
    rows: Iterable[Mapping[str, float | None]], *, measured: Iterable[str], flags: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Deciles (min, p10 ... p90, max) of measured inputs; the share of 1s of flags."""
    table = list(rows)
    result: dict[str, dict[str, Any]] = {}
    for name in measured:
        values = np.array([row[name] for row in table if row[name] is not None], dtype=np.float64)
        result[name] = (
            {
                "n": int(values.size),
                "quantiles": [round(float(q), 2) for q in np.quantile(values, np.linspace(0, 1, 11))],
            }
            if values.size
            else {"unavailable": "no values in the reference population"}
        )
    for name in flags:
        values = np.array([row[name] for row in table if row[name] is not None], dtype=np.float64)
        result[name] = (
            {"n": int(values.size), "proportion": round(float(values.mean()), 4)}
            if values.size
            else {"unavailable": "no values in the reference population"}
        )
    return result


class _PatientRecord:
    def __init__(self, bundle: Mapping[str, Any]) -> None:
        resources = [entry["resource"] for entry in bundle.get("entry", ())]
        patient = next(resource for resource in resources if resource["resourceType"] == "Patient")
        self.id: str = patient["id"]
        self.birth = date.fromisoformat(patient["birthDate"])
        self.male = int(patient.get("gender") == "male")
        self.black = int(_omb_race(patient) == BLACK_OMB_CATEGORY)
        self._observations: dict[str, list[tuple[date, Any]]] = {}
        self._conditions: list[tuple[str, date, date | None]] = []
        self._prescriptions: list[tuple[str, date, str]] = []
        for resource in resources:
            kind = resource["resourceType"]
            if kind == "Observation":
                self._add_observation(resource)
            elif kind == "Condition" and "onsetDateTime" in resource:
                abated = resource.get("abatementDateTime")
                self._conditions.append(
                    (
                        _code(resource["code"]),
                        _day(resource["onsetDateTime"]),
                        _day(abated) if abated else None,
                    )
                )
            elif kind == "MedicationRequest" and "medicationCodeableConcept" in resource:
                self._prescriptions.append(
                    (
                        _code(resource["medicationCodeableConcept"]),
                        _day(resource["authoredOn"]),
                        resource["status"],
                    )
                )
        for series in self._observations.values():
            series.sort(key=lambda item: item[0])

    def values(self, code: str) -> list[tuple[date, Any]]:
        return self._observations.get(code, [])

    def age_at(self, day: date) -> int:
        return day.year - self.birth.year - ((day.month, day.day) < (self.birth.month, self.birth.day))

    def snapshot(self, visit: date, age: int, total_cholesterol: float) -> Snapshot:
        smoking = self._latest(SMOKING_STATUS, visit)
        return Snapshot(
            patient=self.id,
            age_years=age,
            male=self.male,
            black=self.black,
            total_cholesterol=total_cholesterol,
            hdl_cholesterol=self._latest(HDL_CHOLESTEROL, visit),
            systolic_bp=self._latest(SYSTOLIC_BP, visit),
            on_bp_treatment=self._prescribed(ANTIHYPERTENSIVES, visit),
            on_statin=self._prescribed(STATINS, visit),
            current_smoker=int(smoking in CURRENT_SMOKER),
            diabetes=int(
                any(
                    code in DIABETES and onset <= visit and (abated is None or abated > visit)
                    for code, onset, abated in self._conditions
                )
            ),
            egfr=self._latest(EGFR, visit),
            bmi=self._latest(BMI, visit),
        )

    def _add_observation(self, resource: Mapping[str, Any]) -> None:
        when = resource.get("effectiveDateTime")
        if when is None:
            return
        day = _day(when)
        for coding in resource["code"].get("coding", ()):
            if coding.get("system") == LOINC:
                value = resource.get("valueQuantity", {}).get("value")
                if value is None and "valueCodeableConcept" in resource:
                    value = _code(resource["valueCodeableConcept"])
                if value is not None:
                    self._observations.setdefault(coding["code"], []).append((day, value))
        for component in resource.get("component", ()):
            value = component.get("valueQuantity", {}).get("value")
            if value is not None:
                self._observations.setdefault(_code(component["code"]), []).append((day, value))

    def _latest(self, code: str, visit: date) -> Any:
        earlier = [value for day, value in self._observations.get(code, ()) if day <= visit]
        return earlier[-1] if earlier else None

    def _prescribed(self, codes: set[str], visit: date) -> int:
        return int(
            any(
                code in codes
                and written <= visit
                and (status == "active" or (visit - written).days <= PRESCRIPTION_DAYS)
                for code, written, status in self._prescriptions
            )
        )


def _omb_race(patient: Mapping[str, Any]) -> str | None:
    for extension in patient.get("extension", ()):
        if extension.get("url", "").endswith("us-core-race"):
            for part in extension.get("extension", ()):
                if part.get("url") == "ombCategory":
                    code: str = part["valueCoding"]["code"]
                    return code
    return None


def _code(concept: Mapping[str, Any]) -> str:
    code: str = concept["coding"][0]["code"]
    return code


def _day(text: str) -> date:
    return date.fromisoformat(text[:10])
