from __future__ import annotations

from typing import Any

import pytest

from cds_server.features.gates import make_gate


def condition(clinical: Any, verification: Any = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "Condition"}
    if clinical is not None:
        resource["clinicalStatus"] = {"coding": [{"code": clinical}]}
    if verification is not None:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    return resource


@pytest.mark.parametrize(
    ("resource", "passes"),
    [
        (condition("active", "confirmed"), True),
        (condition("recurrence"), True),
        (condition("resolved"), False),
        (condition("active", "refuted"), False),
        (condition("active", "entered-in-error"), False),
        (condition(None), False),
        ({"resourceType": "Condition", "clinicalStatus": "active"}, False),
    ],
)
def test_condition_gate(resource: dict[str, Any], passes: bool) -> None:
    assert (make_gate("Condition", None, None).check(resource) is None) is passes


@pytest.mark.parametrize(
    ("status", "intent", "passes"),
    [
        ("active", "order", True),
        ("active", "plan", True),
        ("active", "proposal", False),
        ("stopped", "order", False),
    ],
)
def test_medication_request_gate(status: str, intent: str, passes: bool) -> None:
    gate = make_gate("MedicationRequest", None, None)
    assert (gate.check({"status": status, "intent": intent}) is None) is passes


def test_overrides() -> None:
    drafts = make_gate("MedicationRequest", ["draft"], ["proposal", "order"])
    assert drafts.check({"status": "draft", "intent": "proposal"}) is None
    assert drafts.check({"status": "active", "intent": "order"}) is not None
    assert make_gate("Observation", ["preliminary"], None).check({"status": "preliminary"}) is None
    assert make_gate("Observation", None, None).plain_statuses == frozenset({"final", "amended", "corrected"})
    assert make_gate("Condition", None, None).plain_statuses is None


def test_impossible_overrides() -> None:
    with pytest.raises(ValueError, match="never be allowed"):
        make_gate("Observation", ["final", "entered-in-error"], None)
    with pytest.raises(ValueError, match="only applies to MedicationRequest"):
        make_gate("Observation", None, ["order"])
