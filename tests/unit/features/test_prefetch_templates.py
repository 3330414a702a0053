from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from cds_server.features.codesets import CodeSet
from cds_server.features.prefetch_templates import MAX_CODE_PARAMETER
from cds_server.features.prefetch_templates import TypeNeeds
from cds_server.features.prefetch_templates import expand_and_check
from cds_server.features.prefetch_templates import generate

LOINC = "http://loinc.org"
SBP = CodeSet("sbp", frozenset({(LOINC, "8480-6")}))
PANEL = CodeSet("panel", frozenset({(LOINC, "85354-9")}))
ICD = CodeSet("dm", frozenset(), (("http://hl7.org/fhir/sid/icd-10-cm", "E11"),))


def test_generated_templates() -> None:
    templates = generate(
        {
            "Patient": TypeNeeds((), None),
            "Observation": TypeNeeds((SBP, PANEL), frozenset({"final"})),
            "Condition": TypeNeeds((ICD,), frozenset({"active", "relapse"})),
        }
    )
    assert templates["patient"].query == "Patient/{{context.patientId}}"
    observations = templates["observations"].query
    assert unquote(observations) == (
        "Observation?patient={{context.patientId}}&code=http://loinc.org|8480-6,http://loinc.org|85354-9"
        "&_sort=-date&_count=500"
    )
    assert "|" not in observations  # system|code is percent-encoded: unencoded tokens broke servers
    # prefix rules cannot be a token search: only the status filters
    assert templates["conditions"].query == (
        "Condition?patient={{context.patientId}}&clinical-status=active,relapse&_count=200"
    )
    assert all(template.required for template in templates.values())


def test_long_code_lists_are_left_to_the_extractor() -> None:
    many = CodeSet("many", frozenset((LOINC, f"{n}-0") for n in range(200)))
    query = generate({"Observation": TypeNeeds((many,), None)})["observations"].query
    assert "code=" not in query
    assert len(query) < MAX_CODE_PARAMETER


def test_codes_macro_in_hand_written_templates() -> None:
    template = expand_and_check(
        "Observation?patient={{context.patientId}}&code={{codes:sbp,panel}}", {"sbp": SBP, "panel": PANEL}
    )
    assert template.resource_type == "Observation"
    assert "8480-6" in template.query
    assert "{{context.patientId}}" in template.query


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("observations", "must start with a resource type"),
        ("Observation?patient={{context.patientId}}&_revinclude=Provenance:target", "outside"),
        ("Observation?patient={{context.patientId}}&_include=Observation:performer", "outside"),
        ("Observation?subject.name=x", "chain or modifier"),
        ("Observation?code:text=bp", "chain or modifier"),
        ("Observation?patient={{context.patientId}}&date=ap2024", "date prefix"),
        ("Observation?patient={{context.encounterId.x}}", "not a CDS Hooks 2.0 token"),
        ("Observation?code={{codes:nope}}", "unknown code sets"),
        ("Condition?code={{codes:dm}}", "prefixes"),
    ],
)
def test_hand_written_templates_are_checked(query: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        expand_and_check(query, {"sbp": SBP, "dm": ICD})


@pytest.mark.parametrize(
    "query",
    [
        "Patient/{{context.patientId}}",
        "Observation?patient={{context.patientId}}&date=ge2024-01-01&_sort=-date&_count=10",
        "MedicationRequest?patient={{context.patientId}}&status=active&_include=MedicationRequest:medication",
        "Practitioner/{{userPractitionerId}}",
        "Condition?patient={{context.patientId}}&code:in=http://example.org/vs",
    ],
)
def test_recommended_subset_is_accepted(query: str) -> None:
    assert expand_and_check(query, {}).query == query


def test_medication_and_encounter_searches_never_filter_by_code() -> None:
    statin = CodeSet("statin", frozenset({("http://www.nlm.nih.gov/research/umls/rxnorm", "36567")}))
    inpatient = CodeSet("imp", frozenset({("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IMP")}))
    templates = generate(
        {
            "MedicationRequest": TypeNeeds((statin,), frozenset({"active"})),
            "Encounter": TypeNeeds((inpatient,), frozenset({"finished"})),
        }
    )
    # a code filter would drop orders that name their drug through medicationReference
    assert (
        templates["medications"].query
        == "MedicationRequest?patient={{context.patientId}}&status=active&_count=200"
    )
    assert templates["encounters"].query == (
        "Encounter?patient={{context.patientId}}&status=finished&_sort=-date&_count=200"
    )
