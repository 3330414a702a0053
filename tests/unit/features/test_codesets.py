from __future__ import annotations

import pytest

from cds_server.features.codesets import CodeSet
from cds_server.features.codesets import codes_from_valueset
from cds_server.features.codesets import compile_code_set
from cds_server.features.codesets import iter_codings

LOINC = "http://loinc.org"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"


def test_inline_codes_aliases_and_prefixes() -> None:
    code_set = compile_code_set(
        "diabetes",
        [{"system": "snomed", "codes": [44054006]}, {"system": "icd10cm", "prefixes": ["E11"]}],
        {},
    )
    assert code_set.contains("http://snomed.info/sct", "44054006")
    assert code_set.contains(ICD, "E11.65")
    assert code_set.contains(ICD, "E11")
    assert not code_set.contains(ICD, "E10.9")
    assert not code_set.contains("http://snomed.info/sct", "E11.9")
    assert not code_set.enumerable


def test_value_set_members_are_included() -> None:
    pinned = {"http://example.org/vs": frozenset({(LOINC, "2093-3")})}
    code_set = compile_code_set(
        "tc", [{"valueSet": "http://example.org/vs"}, {"system": LOINC, "codes": ["14647-2"]}], pinned
    )
    assert code_set.codes == {(LOINC, "2093-3"), (LOINC, "14647-2")}
    assert code_set.enumerable
    with pytest.raises(ValueError, match="no pinned expansion"):
        compile_code_set("tc", {"valueSet": "http://example.org/other"}, pinned)


@pytest.mark.parametrize(
    ("concept", "matches"),
    [
        ({"coding": [{"system": LOINC, "code": "2093-3"}]}, True),
        ({"coding": [{"system": LOINC, "code": "x"}, {"system": LOINC, "code": "2093-3"}]}, True),
        ({"system": LOINC, "code": "2093-3"}, True),  # a bare Coding
        ({"coding": [{"code": "2093-3"}]}, False),  # a code without its system is not trusted
        ({"coding": "2093-3"}, False),
        ({"coding": [None, 3, [LOINC, "2093-3"]]}, False),
        ({"coding": [{"system": LOINC, "code": ["2093-3"]}]}, False),
        ("2093-3", False),
        (None, False),
    ],
)
def test_matching_tolerates_junk(concept: object, matches: bool) -> None:
    assert CodeSet("tc", frozenset({(LOINC, "2093-3")})).matches(concept) is matches


def test_iter_codings() -> None:
    assert list(iter_codings({"coding": [{"system": "s", "code": "c"}, {"code": "x"}]})) == [("s", "c")]


def test_value_set_expansion_and_compose() -> None:
    expansion = {
        "resourceType": "ValueSet",
        "expansion": {
            "contains": [
                {"system": "s", "code": "a"},
                {
                    "system": "s",
                    "code": "group",
                    "abstract": True,
                    "contains": [{"system": "s", "code": "b"}],
                },
            ]
        },
    }
    assert codes_from_valueset(expansion) == {("s", "a"), ("s", "b")}
    compose = {
        "resourceType": "ValueSet",
        "compose": {"include": [{"system": "s", "concept": [{"code": 1}]}]},
    }
    assert codes_from_valueset(compose) == {("s", "1")}
    with pytest.raises(ValueError, match="intensional"):
        codes_from_valueset({"compose": {"include": [{"system": "s", "filter": [{"op": "is-a"}]}]}})
    with pytest.raises(ValueError, match="neither"):
        codes_from_valueset({"resourceType": "ValueSet"})
