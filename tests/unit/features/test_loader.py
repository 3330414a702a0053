"""Loading and compiling specs: a bad spec stops start-up with file, feature and problem named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cds_server.features import MappingSpecError
from cds_server.features import UnknownMapping
from cds_server.features import load_mappings
from tests.unit.features.conftest import NOW
from tests.unit.features.conftest import SpecFactory

HEADER = """
apiVersion: cds-server/feature-mapping/v1
id: test_spec
version: 1.0.0
model: {input: {name: x}}
codeSets:
  sbp: {system: loinc, codes: [8480-6]}
  bp_panel: {system: loinc, codes: [85354-9]}
  smoking: {system: loinc, codes: [72166-2]}
  current: {system: snomed, codes: [449868002]}
  diabetes: {system: icd10cm, prefixes: [E11]}
"""


DERIVED_ONLY = "features: [{name: a, derive: '1'}]\n"


def _prefetch(query_tail: str) -> str:
    return "prefetch: {obs: 'Observation?patient={{context.patientId}}" + query_tail + "'}\n"


def _spec(features: str, header: str = HEADER) -> str:
    return header + "features:\n" + features


def test_a_minimal_spec_loads(compile_spec: SpecFactory) -> None:
    mapping = compile_spec(_spec("  - {name: sbp, from: Observation, code: sbp, unit: 'mm[Hg]'}\n"))
    assert mapping.feature_names == ("sbp",)
    assert mapping.input_name == "x"
    assert mapping.input_dtype == "float32"
    assert mapping.prefetch["observations"].startswith("Observation?patient={{context.patientId}}&code=")


@pytest.mark.parametrize(
    ("features", "feature", "problem"),
    [
        (
            "  - {name: sbp, from: Observation, code: nope, unit: 'mm[Hg]'}\n",
            "sbp",
            "code set 'nope' is not defined",
        ),
        ("  - {name: sbp, from: Observation, code: sbp}\n", "sbp", "needs 'unit'"),
        ("  - {name: sbp, from: Observation, code: sbp, unit: mmHg}\n", "sbp", "not a valid UCUM unit"),
        ("  - {name: sbp, from: Observation, code: sbp, unit: 'mm[Hg]', window: P2X}\n", "sbp", "window"),
        ("  - {name: sbp, from: Observation, code: sbp, unit: 'mm[Hg]', agg: median}\n", "sbp", "agg"),
        ("  - {name: sbp, from: Observation, code: sbp, unit: 'mm[Hg]', range: [300, 50]}\n", "sbp", "range"),
        (
            "  - {name: sbp, from: Observation, code: sbp, unit: kg}\n  - {name: sbp, derive: '1'}\n",
            "sbp",
            "used twice",
        ),
        (
            "  - {name: a, derive: 'b + 1'}\n  - {name: b, from: Observation, code: sbp, unit: kg}\n",
            "a",
            "'b' is not an earlier feature",
        ),
        ("  - {name: a, derive: '__import__(\"os\")'}\n", "a", "only these functions"),
        ("  - {name: a, derive: 'x.y'}\n", "a", "Attribute is not allowed"),
        ("  - {name: a, from: Patient, value: age, window: P1Y}\n", "a", "window cannot be used"),
        ("  - {name: a, from: Patient}\n", "a", "needs value"),
        ("  - {name: a, from: Condition, code: diabetes, agg: latest}\n", "a", "needs a numeric value"),
        (
            "  - {name: a, from: Condition, code: diabetes, status: [entered-in-error]}\n",
            "a",
            "never be allowed",
        ),
        (
            "  - {name: a, from: Condition, code: diabetes, intent: [order]}\n",
            "a",
            "only applies to MedicationRequest",
        ),
        (
            "  - {name: a, from: Condition, code: diabetes, components: sbp}\n",
            "a",
            "components only apply to Observation",
        ),
        ("  - {name: a, from: Condition, code: diabetes, value: {valueIn: current}}\n", "a", "coded values"),
        (
            "  - {name: a, from: Observation, code: sbp, unit: 'mm[Hg]', keys: [nowhere]}\n",
            "a",
            "neither prefetch keys",
        ),
        (
            "  - {name: a, from: Observation, code: sbp, unit: 'mm[Hg]', where: 'resolve().exists()'}\n",
            "a",
            "not allowed",
        ),
        (
            "  - {name: a, from: Observation, code: sbp, unit: 'mm[Hg]', where: \"status = 'final\"}\n",
            "a",
            "invalid FHIRPath",
        ),
        (
            "  - {name: a, from: Observation, code: sbp, unit: kg, molarMass: 10, acceptUnits: [Cel]}\n",
            "a",
            "cannot be converted",
        ),
        (
            "  - {name: a, from: Observation, code: smoking, value: {valueIn: current}, molarMass: 3}\n",
            "a",
            "molarMass",
        ),
        (
            "  - {name: a, from: Observation, code: sbp, components: bp_panel,\n"
            "     value: {fhirpath: status.exists()}}\n",
            "a",
            "cannot read components",
        ),
        (
            "  - {name: a, from: Observation, code: sbp, unit: 'mm[Hg]', flavour: x}\n",
            "a",
            "Additional properties",
        ),
        ("  - {name: A, from: Observation, code: sbp, unit: 'mm[Hg]'}\n", "A", "does not match"),
        (
            "  - {name: a, from: Observation, code: sbp, unit: 'mm[Hg]', input: false}\n",
            None,
            "every feature is auxiliary",
        ),
    ],
)
def test_bad_specs_name_file_feature_and_problem(
    compile_spec: SpecFactory, features: str, feature: str | None, problem: str
) -> None:
    with pytest.raises(MappingSpecError) as caught:
        compile_spec(_spec(features))
    error = caught.value
    assert error.file == "test_spec.yaml"
    assert error.feature == feature
    assert problem in str(error)
    assert str(error).startswith("test_spec.yaml")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            HEADER.replace("id: test_spec", "id: other_name") + "features: [{name: a, derive: '1'}]\n",
            "must match the file name",
        ),
        (
            HEADER.replace("{system: loinc, codes: [8480-6]}", "{valueSet: http://example.org/ValueSet/none}")
            + "features: [{name: a, derive: '1'}]\n",
            "no pinned expansion",
        ),
        (HEADER + "features: []\n", "should be non-empty"),
        (
            HEADER + _prefetch("&_has:Condition=x") + DERIVED_ONLY,
            "outside",
        ),
        (
            HEADER + _prefetch("&date=sa2020") + DERIVED_ONLY,
            "date prefix",
        ),
        (
            HEADER
            + "prefetch: {obs: 'Observation?patient={{patient}}'}\nfeatures: [{name: a, derive: '1'}]\n",
            "not a CDS Hooks 2.0 token",
        ),
        (
            HEADER + _prefetch("&code={{codes:diabetes}}") + DERIVED_ONLY,
            "prefixes",
        ),
        (
            HEADER + _prefetch("") + "features: [{name: a, from: Condition, code: diabetes}]\n",
            "no prefetch key searches Condition",
        ),
        (
            HEADER
            + "contextInputs: [observations]\n"
            + "features: [{name: a, from: Observation, code: sbp, unit: kg}]\n",
            "reuse prefetch key names",
        ),
        ("apiVersion: [unclosed\n", "cannot read YAML"),
    ],
)
def test_bad_spec_level_problems(compile_spec: SpecFactory, text: str, problem: str) -> None:
    with pytest.raises(MappingSpecError, match=re.escape("test_spec.yaml")) as caught:
        compile_spec(text)
    assert problem in str(caught.value)


def test_codes_with_a_leading_zero_stay_strings(compile_spec: SpecFactory) -> None:
    mapping = compile_spec(
        HEADER.replace("codes: [449868002]", "codes: [0123]")
        + "features: [{name: a, from: Observation, code: smoking, value: {valueIn: current}}]\n"
    )
    coded = {
        "resourceType": "Observation",
        "id": "o",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
        "effectiveDateTime": "2025-01-01",
        "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "0123"}]},
    }
    features = mapping.extract(
        {"observations": {"resourceType": "Bundle", "entry": [{"resource": coded}]}}, now=NOW
    )
    assert features.value("a") == 1.0  # YAML 1.1 would have read 0123 as the octal number 83


def test_broken_support_files_stop_loading(spec_dir: Path) -> None:
    (spec_dir / "units" / "synonyms.tsv").write_text("raw\tucum\nfoo\tnot-a-unit\n", encoding="utf-8")
    with pytest.raises(MappingSpecError, match=re.escape("units/synonyms.tsv")):
        load_mappings(spec_dir)


def test_a_valueset_without_expansion_stops_loading(spec_dir: Path) -> None:
    broken = {
        "resourceType": "ValueSet",
        "url": "http://x/vs",
        "compose": {"include": [{"valueSet": ["http://y"]}]},
    }
    (spec_dir / "valuesets" / "broken.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(MappingSpecError, match=re.escape("valuesets/broken.json")):
        load_mappings(spec_dir)


def test_registry_lookup(compile_spec: SpecFactory, spec_dir: Path) -> None:
    compile_spec(_spec("  - {name: a, derive: '1'}\n"))
    registry = load_mappings(spec_dir)
    assert registry.names() == ("test_spec",)
    assert "test_spec" in registry
    assert len(registry) == 1
    assert [m.name for m in registry] == ["test_spec"]
    with pytest.raises(UnknownMapping) as caught:
        registry.get("nope")
    assert isinstance(caught.value, KeyError)
    assert "nope" in str(caught.value)
