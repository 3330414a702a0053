"""Property test: extraction never raises on arbitrary JSON and always returns the declared shape."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cds_server.features import MappingRegistry
from cds_server.features import load_mappings
from tests.unit.features.conftest import MAPPINGS_DIR
from tests.unit.features.conftest import NOW
from tests.unit.features.conftest import as_json

REGISTRY: MappingRegistry = load_mappings(MAPPINGS_DIR)

_scalars = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats() | st.text(max_size=12)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=25,
)


def _codes_of_interest() -> list[str]:
    return [
        "8480-6",
        "85354-9",
        "55284-4",
        "2093-3",
        "72166-2",
        "44054006",
        "E11.9",
        "310798",
        "9279-1",
        "mmHg",
    ]


_systems = st.sampled_from(
    [
        "http://loinc.org",
        "http://snomed.info/sct",
        "http://www.nlm.nih.gov/research/umls/rxnorm",
        "http://hl7.org/fhir/sid/icd-10-cm",
        "http://unitsofmeasure.org",
    ]
)
_coding = st.fixed_dictionaries(
    {}, optional={"system": _systems | _json, "code": st.sampled_from(_codes_of_interest()) | _json}
)
_concept = st.fixed_dictionaries(
    {}, optional={"coding": st.lists(_coding | _json, max_size=3) | _json, "text": _json}
)
_quantity = st.fixed_dictionaries(
    {},
    optional={
        "value": st.floats() | st.integers() | _json,
        "unit": st.sampled_from(["mg/dL", "mmHg", "mmol/L", "%", "[degF]"]) | _json,
        "code": st.sampled_from(["mg/dL", "mm[Hg]", "/min", "Cel"]) | _json,
        "system": st.just("http://unitsofmeasure.org") | _json,
    },
)
_dates = (
    st.sampled_from(["2025-12-01", "2025-12", "2026", "2026-01-15T11:00:00Z", "not-a-date", "2026-13-45"])
    | _json
)
_resource = st.fixed_dictionaries(
    {
        "resourceType": st.sampled_from(
            [
                "Patient",
                "Observation",
                "Condition",
                "MedicationRequest",
                "Medication",
                "Procedure",
                "Encounter",
                "OperationOutcome",
                "Bundle",
            ]
        )
        | _json
    },
    optional={
        "id": st.text(max_size=6) | _json,
        "status": st.sampled_from(["final", "active", "draft", "entered-in-error", "in-progress"]) | _json,
        "code": _concept | _json,
        "medicationCodeableConcept": _concept | _json,
        "medicationReference": st.fixed_dictionaries(
            {"reference": st.sampled_from(["#m", "Medication/1"]) | _json}
        ),
        "contained": st.lists(_json, max_size=2) | _json,
        "valueQuantity": _quantity | _json,
        "valueCodeableConcept": _concept | _json,
        "component": st.lists(
            st.fixed_dictionaries({"code": _concept, "valueQuantity": _quantity}) | _json, max_size=2
        ),
        "effectiveDateTime": _dates,
        "authoredOn": _dates,
        "birthDate": _dates,
        "gender": st.sampled_from(["male", "female", "other"]) | _json,
        "subject": st.fixed_dictionaries({"reference": st.sampled_from(["Patient/p1", "Patient/p2"]) | _json})
        | _json,
        "clinicalStatus": _concept | _json,
        "verificationStatus": _concept | _json,
        "extension": _json,
        "type": _json,
        "class": _json,
    },
)
_entry = st.fixed_dictionaries(
    {}, optional={"resource": _resource | _json, "fullUrl": st.text(max_size=10) | _json}
)
_bundle = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle")},
    optional={"entry": st.lists(_entry | _json, max_size=6) | _json, "link": _json},
)
_prefetch_value = st.none() | _bundle | _resource | _json
_prefetch = (
    st.dictionaries(
        st.sampled_from(
            ["patient", "observations", "conditions", "medications", "vitals", "procedures", "draftOrders"]
        )
        | st.text(max_size=5),
        _prefetch_value,
        max_size=6,
    )
    | _json
)


@settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(prefetch=_prefetch, patient_id=st.none() | st.just("p1"))
def test_extraction_never_raises_and_keeps_its_shape(prefetch: Any, patient_id: str | None) -> None:
    for mapping in REGISTRY:
        features = mapping.extract(prefetch, now=NOW, patient_id=patient_id)
        assert features.names == mapping.feature_names
        assert features.values.shape == (len(mapping.feature_names),)
        assert features.values.dtype == np.float32
        assert set(features.auxiliary) == set(mapping.auxiliary_names)
        assert set(features.provenance) >= set(mapping.feature_names) | set(mapping.auxiliary_names)
        for value in (*features.values.tolist(), *features.auxiliary.values()):
            assert math.isnan(value) or math.isfinite(value)
        as_json(features.as_dict())
