"""The compiled FHIRPath fast path agrees with fhirpathpy (differential test), and refuses the rest."""

from __future__ import annotations

import json
from typing import Any

import fhirpathpy
import pytest
from fhirpathpy.models import models

from cds_server.features.fhirpath import compile_fhirpath
from cds_server.features.fhirpath_fast import NotInFastSubset
from cds_server.features.fhirpath_fast import compile_fast
from tests.unit.features.conftest import MAPPINGS_DIR
from tests.unit.features.conftest import synthea_files

FAST_EXPRESSIONS = [
    "status = 'final'",
    "status != 'final'",
    "Observation.status = 'final'",
    "status in ('final' | 'amended' | 'corrected')",
    "status = 'final' and valueQuantity.exists()",
    "status = 'final' or status = 'amended'",
    "(status = 'final').not()",
    "valueQuantity.exists().not()",
    "code.coding.where(system = 'http://loinc.org' and code = '8480-6').exists()",
    "code.coding.where(code = '55284-4').exists()",
    "code.coding.code = '8480-6'",
    "code.coding.first().code = '8480-6'",
    "code.text.exists()",
    "component.where(code.coding.where(code = '8480-6').exists()).exists()",
    "component.exists(code.coding.code = '8462-4')",
    "category.coding.where(code = 'vital-signs').exists()",
    "valueQuantity.exists()",
    "valueQuantity.empty()",
    "value.exists()",
    "effective.exists()",
    "valueQuantity.unit = 'mg/dL'",
    "valueQuantity.value = 120",
    "valueQuantity.system = 'http://unitsofmeasure.org'",
    "subject.reference = 'Patient/p1'",
    "gender = 'male'",
    "extension('http://hl7.org/fhir/us/core/StructureDefinition/us-core-race').exists()",
    "verificationStatus.coding.where(code = 'refuted').empty()",
    "clinicalStatus.coding.where(code = 'active').exists()"
    " and verificationStatus.coding.where(code = 'confirmed').exists()",
    "medicationCodeableConcept.coding.where(system = 'http://www.nlm.nih.gov/research/umls/rxnorm').exists()",
    "intent = 'order' and status = 'active'",
    "onset.exists()",
    "multipleBirth = false",
]

SLOW_EXPRESSIONS = [
    "valueQuantity.value > 100",
    "effectiveDateTime >= @2020-01-01",
    "birthDate = '1970-06-15'",
    "value.ofType(Quantity).value.exists()",
    "code.coding.count() = 1",
    "status = 'final' implies valueQuantity.exists()",
    "component[0].exists()",
    "code = code",
    "status.exists() xor code.exists()",
]


def _resources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((MAPPINGS_DIR / "tests").glob("*/*.json")):
        found.extend(json.loads(path.read_text(encoding="utf-8"))["resources"])
    for path in synthea_files()[:3]:
        entries = json.loads(path.read_text(encoding="utf-8"))["entry"]
        found.extend(entry["resource"] for entry in entries[:80])
    found.extend(
        [
            {"resourceType": "Observation"},
            {"resourceType": "Observation", "status": ["final"], "code": {"coding": "8480-6"}},
            {"resourceType": "Patient", "gender": "male", "multipleBirthBoolean": False},
            {
                "resourceType": "Observation",
                "valueQuantity": {"value": 120.0, "unit": "mg/dL"},
                "status": "final",
            },
        ]
    )
    return found


RESOURCES = _resources()


def _outcome(evaluate: Any, resource: dict[str, Any]) -> Any:
    try:
        return ("ok", list(evaluate(resource)))
    except Exception as exc:  # both sides may refuse malformed data; the kind of refusal can differ
        return ("error", type(exc).__name__ != "")


@pytest.mark.parametrize("expression", FAST_EXPRESSIONS)
def test_fast_path_agrees_with_fhirpathpy(expression: str) -> None:
    fast = compile_fast(expression)
    reference = fhirpathpy.compile(expression, models["r4"])
    disagreements = []
    for resource in RESOURCES:
        got = _outcome(lambda r: fast([r]), resource)
        want = _outcome(lambda r: reference(r, {}), resource)
        if got != want:
            disagreements.append((resource.get("resourceType"), resource.get("id"), got, want))
    assert not disagreements, disagreements[:3]
    assert compile_fhirpath(expression).fast


@pytest.mark.parametrize("expression", FAST_EXPRESSIONS)
def test_fast_path_finds_true_somewhere(expression: str) -> None:
    """Guard against a vacuous differential test: the expressions must discriminate."""
    fast = compile_fast(expression)
    outcomes = {str(_outcome(lambda r: fast([r]), r)) for r in RESOURCES}
    assert "('ok', [True])" in outcomes, expression
    assert len(outcomes) > 1, expression


@pytest.mark.parametrize("expression", SLOW_EXPRESSIONS)
def test_other_expressions_fall_back_to_fhirpathpy(expression: str) -> None:
    with pytest.raises(NotInFastSubset):
        compile_fast(expression)
    path = compile_fhirpath(expression)
    assert not path.fast
    reference = fhirpathpy.compile(expression, models["r4"])
    for resource in RESOURCES[:40]:
        assert _outcome(path.evaluate, resource) == _outcome(lambda r: reference(r, {}), resource)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("resolve().exists()", "not allowed"),
        ("status.matches('fin.*')", "not allowed"),
        ("", "empty"),
        ("status = = 'final'", "invalid FHIRPath"),
        ("status = 'final", "invalid FHIRPath"),
    ],
)
def test_unusable_expressions_are_refused_at_load(expression: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        compile_fhirpath(expression)


def test_where_truth_is_exactly_true() -> None:
    path = compile_fhirpath("status = 'final'")
    assert path.test({"status": "final"})
    assert not path.test({"status": "draft"})
    assert not path.test({})  # empty is not true
