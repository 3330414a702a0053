"""Status gates: which resource states count as clinical facts.

Defaults follow the mapping design (reference/fhir-mapping.md §5.1); a feature may replace the
allowed list (``status:``, and ``intent:`` for MedicationRequest). ``entered-in-error`` can never
be allowed, and a Condition whose verification status is refuted or entered-in-error never counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_STATUSES: Mapping[str, frozenset[str]] = {
    "Observation": frozenset({"final", "amended", "corrected"}),
    "Condition": frozenset({"active", "recurrence", "relapse"}),
    "MedicationRequest": frozenset({"active"}),
    "Encounter": frozenset({"in-progress", "finished", "arrived", "triaged", "onleave"}),
    "Procedure": frozenset({"completed", "in-progress"}),
}

#: Every "order" flavour plus "plan"; a "proposal" is not yet a decision to treat.
DEFAULT_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order", "plan"}
)

NEVER_ALLOWED = "entered-in-error"
_REJECTED_VERIFICATION = frozenset({"refuted", NEVER_ALLOWED})


@dataclass(frozen=True, slots=True)
class StatusGate:
    resource_type: str
    allowed: frozenset[str]
    intents: frozenset[str] | None = None

    @property
    def plain_statuses(self) -> frozenset[str] | None:
        """The allowed ``status`` codes when that is the whole rule (not Condition, no intent)."""
        if self.resource_type == "Condition" or self.intents is not None:
            return None
        return self.allowed

    def check(self, resource: dict[str, Any]) -> str | None:
        """None when the resource passes; otherwise a short reason for the provenance."""
        if self.resource_type == "Condition":
            return self._check_condition(resource)
        status = resource.get("status")
        if status not in self.allowed:
            return f"status {status!r} is not one of {sorted(self.allowed)}"
        if self.intents is not None:
            intent = resource.get("intent")
            if intent not in self.intents:
                return f"intent {intent!r} is not one of {sorted(self.intents)}"
        return None

    def _check_condition(self, resource: dict[str, Any]) -> str | None:
        verification = set(_status_codes(resource.get("verificationStatus")))
        if verification & _REJECTED_VERIFICATION:
            return f"verificationStatus {sorted(verification & _REJECTED_VERIFICATION)[0]}"
        clinical = _status_codes(resource.get("clinicalStatus"))
        if not clinical:
            return "no clinicalStatus"
        if not any(code in self.allowed for code in clinical):
            return f"clinicalStatus {clinical[0]!r} is not one of {sorted(self.allowed)}"
        return None


def make_gate(
    resource_type: str, statuses: Iterable[str] | None, intents: Iterable[str] | None
) -> StatusGate:
    """Build a gate from a feature's overrides; raises ValueError for a status that can never count."""
    allowed = frozenset(statuses) if statuses is not None else DEFAULT_STATUSES[resource_type]
    if NEVER_ALLOWED in allowed:
        raise ValueError("status 'entered-in-error' can never be allowed")
    if resource_type == "MedicationRequest":
        chosen = frozenset(intents) if intents is not None else DEFAULT_INTENTS
        return StatusGate(resource_type, allowed, chosen)
    if intents is not None:
        raise ValueError("'intent' only applies to MedicationRequest features")
    return StatusGate(resource_type, allowed)


def _status_codes(concept: object) -> list[str]:
    """The codes of a status CodeableConcept; its (fixed) system is often left out, so not required."""
    codings = concept.get("coding") if isinstance(concept, dict) else None
    if not isinstance(codings, list):
        return []
    return [
        coding["code"]
        for coding in codings
        if isinstance(coding, dict) and isinstance(coding.get("code"), str)
    ]
