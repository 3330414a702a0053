from __future__ import annotations

import pytest

from cds_server.features.references import refers_to
from cds_server.features.references import resolve_medication


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/p1", True),
        ("https://ehr.example/fhir/Patient/p1", True),
        ("Patient/p1/_history/3", True),
        ("urn:uuid:p1", True),
        ("Patient/p10", False),
        ("Practitioner/p1", False),
        ("Patient/p2", False),
        (None, False),
        ({"reference": "Patient/p1"}, False),
    ],
)
def test_refers_to(reference: object, expected: bool) -> None:
    assert refers_to(reference, "Patient", "p1") is expected


MED = {"resourceType": "Medication", "id": "m1", "code": {"text": "x"}}


@pytest.mark.parametrize(
    ("reference", "found"),
    [
        ("Medication/m1", True),
        ("https://ehr.example/fhir/Medication/m1", True),
        ("https://other.example/fhir/Medication/m1/_history/2", True),
        ("Medication/m2", False),
    ],
)
def test_resolve_from_the_prefetch(reference: str, found: bool) -> None:
    index = {"https://ehr.example/fhir/Medication/m1": MED, "Medication/m1": MED}
    medication, shown = resolve_medication({"medicationReference": {"reference": reference}}, index)
    assert (medication is MED) is found
    assert shown == reference


def test_resolve_contained() -> None:
    request = {
        "medicationReference": {"reference": "#c"},
        "contained": [{"resourceType": "Medication", "id": "c"}],
    }
    assert resolve_medication(request, {})[0] == {"resourceType": "Medication", "id": "c"}
    assert resolve_medication({"medicationReference": {"reference": "#c"}, "contained": 7}, {})[0] is None
    assert resolve_medication({"medicationReference": "Medication/m1"}, {}) == (None, None)
