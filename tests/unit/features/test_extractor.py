"""Extraction semantics beyond the golden cases: filters, aggregations, policies, junk input."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest

from cds_server.features import ExclusionReason
from cds_server.features import FeatureStatus
from cds_server.features.mapping import CompiledMapping
from tests.unit.features.conftest import NOW
from tests.unit.features.conftest import SNOMED
from tests.unit.features.conftest import SpecFactory
from tests.unit.features.conftest import as_json
from tests.unit.features.conftest import bundle
from tests.unit.features.conftest import observation
from tests.unit.features.conftest import quantity

SPEC = """
apiVersion: cds-server/feature-mapping/v1
id: test_spec
version: 2.1.0
model: {input: {name: input_0}}
contextInputs: [draftOrders]
codeSets:
  hr: {system: loinc, codes: [8867-4]}
  smoking: {system: loinc, codes: [72166-2]}
  current: {system: snomed, codes: [449868002]}
  race_black: {system: cdcrec, codes: [2054-5]}
  inpatient: {system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", codes: [IMP]}
  dialysis: {system: snomed, codes: [108241001]}
  diabetes: {system: icd10cm, prefixes: [E11]}
features:
  - {name: age, from: Patient, value: age, unit: a}
  - {name: sex, from: Patient, value: {gender: {male: 1, female: 0}}}
  - {name: black, from: Patient, value: {race: race_black}}
  - name: hr_latest
    from: Observation
    code: hr
    unit: /min
    window: P30D
    range: [20, 250]
    missing: {impute: 70, flag: hr_missing}
  - {name: hr_mean, from: Observation, code: hr, unit: /min, window: P30D, agg: mean}
  - {name: hr_min, from: Observation, code: hr, unit: /min, window: P30D, agg: min}
  - {name: hr_max, from: Observation, code: hr, unit: /min, window: P30D, agg: max}
  - {name: hr_first, from: Observation, code: hr, unit: /min, window: P30D, agg: earliest}
  - {name: hr_delta, from: Observation, code: hr, unit: /min, window: P30D, agg: delta}
  - {name: hr_count, from: Observation, code: hr, unit: /min, agg: count}
  - name: hr_home
    input: false
    from: Observation
    code: hr
    unit: /min
    where: "extension.where(url = 'http://example.org/setting' and valueCode = 'home').exists()"
  - name: hr_high
    input: false
    from: Observation
    code: hr
    unit: /min
    where: "valueQuantity.value > 100"
  - {name: smoker, from: Observation, code: smoking, value: {valueIn: current}}
  - {name: inpatient_stays, from: Encounter, code: inpatient, agg: count, window: P1Y}
  - {name: dialysis, from: Procedure, code: dialysis}
  - {name: diabetes, from: Condition, code: diabetes}
  - {name: bradycardia_score, derive: "above(hr_latest, 60) * 2 + ln(hr_latest) * 0", range: [0, 1]}
  - {name: tachy, derive: "max(above(hr_latest, 100), above(hr_max, 100))"}
"""


@pytest.fixture
def mapping(compile_spec: SpecFactory) -> CompiledMapping:
    return compile_spec(SPEC)


def hr(oid: str, when: str | None, value: Any, **extra: Any) -> dict[str, Any]:
    return observation(oid, "8867-4", when, quantity(value, "/min") if value is not None else None, **extra)


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1970-01-15"}


def test_vector_layout_puts_indicators_after_their_feature(mapping: CompiledMapping) -> None:
    assert mapping.feature_names[:6] == ("age", "sex", "black", "hr_latest", "hr_missing", "hr_mean")
    assert mapping.auxiliary_names == ("hr_home", "hr_high")
    assert mapping.version == "2.1.0"


def test_aggregations(mapping: CompiledMapping) -> None:
    observations = bundle(
        hr("a", "2026-01-01T10:00:00Z", 80),
        hr("b", "2026-01-10T10:00:00Z", 120),
        hr("c", "2026-01-05T10:00:00Z", 60),
        hr("old", "2025-06-01T10:00:00Z", 200),
    )
    features = mapping.extract({"patient": PATIENT, "observations": observations}, now=NOW, patient_id="p1")
    assert features.value("hr_latest") == 120
    assert features.value("hr_missing") == 0
    assert features.value("hr_mean") == pytest.approx((80 + 120 + 60) / 3)
    assert features.value("hr_min") == 60
    assert features.value("hr_max") == 120
    assert features.value("hr_first") == 80
    assert features.value("hr_delta") == 120 - 60
    assert features.value("hr_count") == 4  # no window on the count
    assert features.value("tachy") == 1
    mean = features.provenance["hr_mean"]
    assert sorted(c.resource for c in mean.contributions) == [
        "Observation/a",
        "Observation/b",
        "Observation/c",
    ]
    assert [e.reason for e in mean.exclusions] == [ExclusionReason.OUT_OF_WINDOW]


def test_missing_policy_imputes_and_flags(mapping: CompiledMapping) -> None:
    features = mapping.extract({"patient": PATIENT, "observations": bundle()}, now=NOW, patient_id="p1")
    assert features.value("hr_latest") == 70
    assert features.value("hr_missing") == 1
    assert features.provenance["hr_latest"].status is FeatureStatus.IMPUTED
    assert "hr_latest" in features.imputed
    assert "hr_latest" in features.missing
    assert math.isnan(features.value("hr_mean"))
    assert features.provenance["hr_mean"].missing_reason == "no matching resources"
    assert features.value("hr_count") == 0  # the key was there: nothing matched
    # derived features see the imputed 70, giving 2, which their own range [0, 1] rejects
    assert math.isnan(features.value("bradycardia_score"))
    assert "implausible" in (features.provenance["bradycardia_score"].missing_reason or "")


def test_where_filters_fast_and_slow(mapping: CompiledMapping) -> None:
    home = {"extension": [{"url": "http://example.org/setting", "valueCode": "home"}]}
    observations = bundle(hr("h", "2026-01-10T10:00:00Z", 90, **home), hr("c", "2026-01-11T10:00:00Z", 110))
    features = mapping.extract({"observations": observations}, now=NOW)
    assert features.value("hr_home") == 90
    assert {e.resource: e.reason for e in features.provenance["hr_home"].exclusions} == {
        "Observation/c": ExclusionReason.FILTERED
    }
    assert features.value("hr_high") == 110
    assert {e.reason for e in features.provenance["hr_high"].exclusions} == {ExclusionReason.FILTERED}


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (hr("x", "2026-01-15T12:04:00Z", 90), None),  # within the allowed clock skew
        (hr("x", "2026-01-16T10:00:00Z", 90), ExclusionReason.AFTER_REFERENCE_TIME),
        (hr("x", None, 90), ExclusionReason.NO_TIME),
        (hr("x", "yesterday", 90), ExclusionReason.NO_TIME),
        (hr("x", "2026-01-10", None), ExclusionReason.NO_VALUE),
        (hr("x", "2026-01-10", "90"), ExclusionReason.NO_VALUE),
        (hr("x", "2026-01-10", True), ExclusionReason.NO_VALUE),
        (hr("x", "2026-01-10", 900), ExclusionReason.IMPLAUSIBLE),
        (hr("x", "2026-01-10", 90, status="preliminary"), ExclusionReason.STATUS),
        (hr("x", "2026-01-10", 90, subject="Patient/p2"), ExclusionReason.WRONG_PATIENT),
        (hr("x", "2026-01-10", 90, subject="urn:uuid:p1"), None),
        (hr("x", "2026-01", 90), None),  # partial date: low boundary, 2026-01-01
    ],
)
def test_candidate_screening(
    mapping: CompiledMapping, resource: dict[str, Any], reason: ExclusionReason | None
) -> None:
    features = mapping.extract({"observations": bundle(resource)}, now=NOW, patient_id="p1")
    provenance = features.provenance["hr_latest"]
    if reason is None:
        assert provenance.status is FeatureStatus.OBSERVED
        assert provenance.value == 90
    else:
        assert [e.reason for e in provenance.exclusions] == [reason]
        assert provenance.status is FeatureStatus.IMPUTED


def test_patient_features(mapping: CompiledMapping) -> None:
    unknown_race = {
        "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
        "extension": [
            {
                "url": "ombCategory",
                "valueCoding": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-NullFlavor",
                    "code": "UNK",
                },
            }
        ],
    }
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "other",
        "birthDate": "1970-06",
        "extension": [unknown_race],
    }
    features = mapping.extract({"patient": patient}, now=NOW, patient_id="p1")
    assert features.value("age") == 55  # 1970-06 -> 1970-06-01
    assert math.isnan(features.value("sex"))
    assert features.provenance["sex"].exclusions[0].reason is ExclusionReason.UNMAPPED_CODE
    assert math.isnan(features.value("black"))


def test_another_patients_resource_and_duplicates(mapping: CompiledMapping) -> None:
    other = dict(PATIENT, id="p2")
    features = mapping.extract(
        {"patient": other, "more": bundle(PATIENT, dict(PATIENT, gender="female"))}, now=NOW, patient_id="p1"
    )
    assert features.value("sex") == 1
    reasons = {e.reason for e in features.provenance["sex"].exclusions}
    assert reasons == {ExclusionReason.WRONG_PATIENT, ExclusionReason.DUPLICATE_PATIENT}


def test_encounters_procedures_and_prefix_codes(mapping: CompiledMapping) -> None:
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "period": {"start": "2025-10-01T08:00:00Z"},
        "subject": {"reference": "Patient/p1"},
    }
    planned = dict(encounter, id="e2", status="planned")
    procedure = {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "108241001"}]},
        "performedPeriod": {"start": "2025-12-01"},
        "subject": {"reference": "Patient/p1"},
    }
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "E11.65"}]},
        "subject": {"reference": "Patient/p1"},
    }
    prefetch = {
        "encounters": bundle(encounter, planned),
        "procedures": bundle(procedure),
        "conditions": bundle(condition),
    }
    features = mapping.extract(prefetch, now=NOW, patient_id="p1")
    assert features.value("inpatient_stays") == 1
    assert features.value("dialysis") == 1
    assert features.value("diabetes") == 1


def test_context_inputs_are_only_read_by_features_that_ask(mapping: CompiledMapping) -> None:
    draft = {"resourceType": "Bundle", "entry": [{"resource": hr("d", "2026-01-14T10:00:00Z", 99)}]}
    features = mapping.extract({"draftOrders": draft}, now=NOW)
    assert features.value("hr_latest") == 70  # imputed: the draft bundle is not chart data
    assert features.inputs["draftOrders"] == "bundle"
    assert features.inputs["observations"] == "absent"


@pytest.mark.parametrize(
    ("prefetch", "status", "note"),
    [
        ({"observations": None}, "null", None),
        ({"observations": {"resourceType": "OperationOutcome"}}, "operation-outcome", "OperationOutcome"),
        ({"observations": [1, 2]}, "invalid", "does not hold a FHIR resource"),
        ({"observations": {"resourceType": "Bundle", "entry": "x"}}, "invalid", "not a list"),
        ({"observations": bundle(link=[{"relation": "next", "url": "x"}])}, "bundle", "paginated"),
    ],
)
def test_prefetch_key_states(
    mapping: CompiledMapping, prefetch: dict[str, Any], status: str, note: str | None
) -> None:
    features = mapping.extract(prefetch, now=NOW)
    assert features.inputs["observations"] == status
    if note:
        assert any(note in n for n in features.notes)
    count = features.value("hr_count")
    # null means "no data" (0); anything unusable means "unknown" (missing)
    assert count == 0 if status in ("null", "bundle") else math.isnan(count)


def test_a_prefetch_that_is_not_a_mapping_is_recorded(mapping: CompiledMapping) -> None:
    features = mapping.extract(["not", "a", "mapping"], now=NOW)  # type: ignore[arg-type]
    assert features.notes
    assert features.values.shape == (len(mapping.feature_names),)


def test_resources_under_an_undeclared_key_are_read(mapping: CompiledMapping) -> None:
    features = mapping.extract({"everything": bundle(hr("a", "2026-01-10", 75))}, now=NOW)
    assert features.value("hr_latest") == 75
    assert features.value("hr_count") == 1


def test_now_must_be_timezone_aware(mapping: CompiledMapping) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        mapping.extract({}, now=datetime(2026, 1, 1))


def test_as_dict_is_json(mapping: CompiledMapping) -> None:
    features = mapping.extract(
        {"patient": PATIENT, "observations": bundle(hr("a", "2026-01-10", 75))}, now=NOW
    )
    document = features.as_dict()
    as_json(document)
    assert document["mapping"] == "test_spec"
    assert document["referenceTime"] == NOW.isoformat()
    assert document["features"]["hr_latest"]["contributions"][0]["resource"] == "Observation/a"
    assert document["values"][document["names"].index("hr_mean")] == 75
    assert document["features"]["hr_home"]["input"] is False
