"""A patient's record as it stood at a past moment, so the mapping engine can be run "as of" then.

The mapping engine already ignores what was recorded after its reference time. What it cannot know is
that a condition resolved since, or a medication stopped since, was active back then: today's record
says ``resolved`` / ``stopped``. This view rewrites those statuses from the dates the record itself
holds (``abatement[x]``; a medication's validity or dosage bounds) and leaves them alone when no date
says when the status changed (then the current status stands: we do not guess).
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cds_server.features.fhirtime import parse_fhir_datetime
from cds_server.features.resource_time import TIME_RULES

_ENDED_CONDITION = frozenset({"resolved", "inactive", "remission"})
_ENDED_MEDICATION = frozenset({"stopped", "completed"})
_ACTIVE_CONDITION = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "active",
            "display": "Active",
        }
    ]
}
_RESOLVED_CONDITION = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": "resolved",
            "display": "Resolved",
        }
    ]
}


def resources_of(prefetch: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every resource of a prefetch (resources and searchset entries), OperationOutcomes left out."""
    found: list[dict[str, Any]] = []
    for value in (prefetch or {}).values():
        if not isinstance(value, dict):
            continue
        if value.get("resourceType") == "Bundle":
            for entry in value.get("entry") or ():
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and resource.get("resourceType") != "OperationOutcome":
                    found.append(resource)
        elif value.get("resourceType") not in (None, "OperationOutcome"):
            found.append(value)
    return found


def merge(*sources: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Union by ``(resourceType, id)``; a later source's version wins (the server's full record)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    anonymous: list[dict[str, Any]] = []
    for source in sources:
        for resource in source:
            key = (str(resource.get("resourceType")), str(resource.get("id") or ""))
            if key[1]:
                merged[key] = resource
            else:
                anonymous.append(resource)
    return [*merged.values(), *anonymous]


def as_of(resources: Sequence[dict[str, Any]], moment: datetime) -> list[dict[str, Any]]:
    """The resources known at ``moment``, with condition and medication statuses as they were then."""
    view: list[dict[str, Any]] = []
    for resource in resources:
        kind = resource.get("resourceType")
        rule = TIME_RULES.get(str(kind))
        when = parse_fhir_datetime(rule(resource)) if rule is not None else None
        if when is not None and when > moment:
            continue  # recorded later: not part of the record then
        if kind == "Condition":
            view.append(_condition_then(resource, moment))
        elif kind == "MedicationRequest":
            view.append(_medication_then(resource, moment))
        else:
            view.append(resource)
    return view


def _condition_then(resource: dict[str, Any], moment: datetime) -> dict[str, Any]:
    codes = {
        c.get("code")
        for c in (resource.get("clinicalStatus") or {}).get("coding") or ()
        if isinstance(c, dict)
    }
    ended = parse_fhir_datetime(
        resource.get("abatementDateTime") or (resource.get("abatementPeriod") or {}).get("start")
    )
    if ended is None:
        return resource
    if ended <= moment:
        return (
            {**resource, "clinicalStatus": _RESOLVED_CONDITION}
            if codes & {"active", "recurrence", "relapse"}
            else resource
        )
    if codes & _ENDED_CONDITION:
        return {**resource, "clinicalStatus": _ACTIVE_CONDITION}
    return resource


def _medication_then(resource: dict[str, Any], moment: datetime) -> dict[str, Any]:
    if resource.get("status") not in _ENDED_MEDICATION:
        return resource
    ends = [
        parse_fhir_datetime(((resource.get("dispenseRequest") or {}).get("validityPeriod") or {}).get("end")),
        *(
            parse_fhir_datetime(
                (((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}).get("end")
            )
            for dosage in resource.get("dosageInstruction") or ()
            if isinstance(dosage, dict)
        ),
    ]
    known = [end for end in ends if end is not None]
    if known and max(known) > moment:
        return {**resource, "status": "active"}
    return resource
