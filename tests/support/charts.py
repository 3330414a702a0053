"""Complete prefetches for the reference services, from Synthea patients or from built charts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cds_server.hooks.service import CdsService
from tests.support import fhir_builders as fb
from tests.support.synthea import patient
from tests.support.synthea import resources

#: Synthea data ends in 2020-2021; the clinical "now" of tests that use it
SYNTHEA_NOW = "2020-06-01T00:00:00+00:00"


def prefetch_for(service: CdsService, chart: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Answer each of the service's prefetch keys from ``chart`` as an EHR would (read or search)."""
    chart = list(chart)
    out: dict[str, Any] = {}
    for spec in service.prefetch:
        matching = [r for r in chart if r["resourceType"] == spec.resource_type]
        if spec.is_read:
            out[spec.key] = matching[0] if matching else None
        else:
            out[spec.key] = fb.bundle(matching)
    return out


def synthea_chart(name: str) -> list[dict[str, Any]]:
    return [patient(name), *[r for r in resources(name) if r["resourceType"] != "Patient"]]


def high_risk_chart(
    patient_id: str, *, statin: bool = False, age_birth: str = "1957-03-01"
) -> list[dict[str, Any]]:
    """A 63-year-old male smoker with diabetes and untreated high blood pressure (ASCVD risk >> 7.5 %)."""
    chart = [
        fb.patient(patient_id, birth_date=age_birth, gender="male"),
        fb.observation(patient_id, "2093-3", 240, "mg/dL", "2020-03-01"),
        fb.observation(patient_id, "2085-9", 38, "mg/dL", "2020-03-01"),
        fb.blood_pressure(patient_id, 162, 95, "2020-05-01"),
        fb.smoking_status(patient_id, current=True, when="2020-05-01"),
        fb.condition(patient_id, "44054006", "2015-01-01"),
    ]
    if statin:
        chart.append(fb.medication_request(patient_id, "617310"))
    return chart
