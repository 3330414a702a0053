"""Golden cases per shipped mapping: ``fhir_mappings/tests/<mapping>/*.json``.

The shape follows the SQL-on-FHIR test files: ``{title, description?, resources, now, expect}``,
plus ``patientId``, ``omitKeys`` (keys absent from the prefetch), ``nullKeys`` (keys that are
``null``, i.e. "no data"), ``extraKeys`` (keys passed as-is, e.g. ``draftOrders``) and
``expectProvenance``. Expected values were worked out by hand, not by running the engine.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cds_server.features import MappingRegistry
from tests.unit.features.conftest import MAPPINGS_DIR
from tests.unit.features.conftest import as_json
from tests.unit.features.conftest import prefetch_from_resources

CASES = sorted((MAPPINGS_DIR / "tests").glob("*/*.json"))


def _case_id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def test_every_shipped_mapping_has_golden_cases(registry: MappingRegistry) -> None:
    covered = {path.parent.name for path in CASES}
    assert set(registry.names()) <= covered


@pytest.mark.parametrize("path", CASES, ids=_case_id)
def test_golden_case(path: Path, registry: MappingRegistry) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    mapping = registry.get(path.parent.name)
    prefetch = prefetch_from_resources(
        mapping, case["resources"], omit=tuple(case.get("omitKeys", ())), null=tuple(case.get("nullKeys", ()))
    )
    prefetch.update(case.get("extraKeys", {}))
    now = datetime.fromisoformat(case["now"])

    features = mapping.extract(prefetch, now=now, patient_id=case.get("patientId"))

    for name, expected in case["expect"].items():
        actual = features.value(name)
        if expected is None:
            assert math.isnan(actual), f"{case['title']}: {name} = {actual}, expected missing"
        else:
            assert actual == pytest.approx(expected, rel=1e-5, abs=1e-6), f"{case['title']}: {name}"
            if name in features.names:  # the float32 vector agrees with the provenance
                assert float(features.values[features.names.index(name)]) == pytest.approx(expected, rel=1e-5)
    for name, expected in case.get("expectProvenance", {}).items():
        _check_provenance(features.as_dict()["features"][name], expected, f"{case['title']}: {name}")
    as_json(features.as_dict())


def _check_provenance(actual: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    if "status" in expected:
        assert actual["status"] == expected["status"], where
    if "contributions" in expected:
        assert sorted(c["resource"] for c in actual["contributions"]) == sorted(expected["contributions"]), (
            where
        )
    if "component" in expected:
        assert [c.get("component") for c in actual["contributions"]] == [expected["component"]], where
    if "unitFrom" in expected:
        assert [c.get("unitFrom") for c in actual["contributions"]] == expected["unitFrom"], where
    for resource, reason in expected.get("exclusions", {}).items():
        reasons = [e["reason"] for e in actual["exclusions"] if e["resource"] == resource]
        assert reasons == [reason], f"{where}: {resource} excluded as {reasons}, expected {reason}"
