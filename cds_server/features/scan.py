"""The one pass over a prefetch: route every resource to the features whose codes it carries.

Each resource is looked at once: its codings are hash lookups into the compiled dispatch table
(plus a few prefix rules, e.g. ICD-10 ``E11``). Medications are indexed on the way so that
``medicationReference`` can be resolved afterwards, whatever the entry order was.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any

from cds_server.features.codesets import iter_codings
from cds_server.features.plan import MappingPlan
from cds_server.features.plan import ResourceDispatch
from cds_server.features.plan import Target
from cds_server.features.references import medication_keys
from cds_server.features.references import resolve_medication

#: Resource types whose matching codes are in ``code`` (the others are special-cased).
_CODED_BY_CODE = frozenset({"Observation", "Condition", "Procedure"})


class KeyStatus(StrEnum):
    """What a prefetch key held."""

    RESOURCE = "resource"
    BUNDLE = "bundle"
    NULL = "null"
    OPERATION_OUTCOME = "operation-outcome"
    INVALID = "invalid"

    @property
    def usable(self) -> bool:
        """Whether the key tells us something about the chart (``null`` means "no data")."""
        return self in (KeyStatus.RESOURCE, KeyStatus.BUNDLE, KeyStatus.NULL)


#: A resource (or one of its Observation components) whose code matched a feature:
#: ``(resource, component or None, prefetch key, Medication reference it was coded through or None)``.
#: A plain tuple rather than a NamedTuple: ~90 are built per request and this halves their cost.
Candidate = tuple[dict[str, Any], dict[str, Any] | None, str, str | None]


@dataclass(slots=True)
class Scan:
    candidates: list[list[Candidate]]
    patients: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    key_status: dict[str, KeyStatus] = field(default_factory=dict)
    types_by_key: dict[str, set[str]] = field(default_factory=dict)
    unresolved_medications: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Per-resource facts shared by the features that read the same resource (keyed by id()).
    facts: dict[int, Any] = field(default_factory=dict)


def scan_prefetch(prefetch: object, plan: MappingPlan) -> Scan:
    """Read every key of ``prefetch`` once; tolerate anything."""
    scan = Scan(candidates=[[] for _ in range(plan.source_count)])
    if not isinstance(prefetch, Mapping):
        scan.notes.append(f"prefetch is a {type(prefetch).__name__}, not a mapping of keys; nothing was read")
        return scan
    router = _Router(plan, scan)
    for key, value in prefetch.items():
        if not isinstance(key, str):
            scan.notes.append(f"ignored a prefetch key that is not a string ({type(key).__name__})")
            continue
        status, entries = _unpack(key, value, scan.notes)
        scan.key_status[key] = status
        seen = scan.types_by_key.setdefault(key, set())
        if status is KeyStatus.RESOURCE:
            router.visit(value, None, key, seen)
            continue
        router.visit_entries(entries, key, seen)
    router.resolve_deferred()
    return scan


class _Router:
    """Per-request routing state: the Medication index and the requests waiting for it."""

    def __init__(self, plan: MappingPlan, scan: Scan) -> None:
        self.dispatch = plan.dispatch
        self.scan = scan
        self.medications: dict[str, dict[str, Any]] = {}
        self.deferred: list[tuple[str, dict[str, Any]]] = []

    def visit_entries(self, entries: list[Any], key: str, seen: set[str]) -> None:
        """Bundle entries.

        Well-formed Observations, Conditions and Procedures take a fast path written with plain
        subscripts (no isinstance, no .get): any surprise in the JSON -- a missing element, a
        list where a dict belongs, an unhashable code -- raises, and that one entry is then read
        again by the careful path, which skips what it cannot use.
        """
        dispatch_get = self.dispatch.get
        candidates = self.scan.candidates
        for entry in entries:
            try:
                resource = entry["resource"]
                resource_type = resource["resourceType"]
                if resource_type in _CODED_BY_CODE:
                    dispatch = dispatch_get(resource_type)
                    targets: list[Target] | None = None
                    if dispatch is not None:
                        exact_get = dispatch.exact.get
                        prefixes = dispatch.prefixes
                        for coding in resource["code"]["coding"]:
                            system = coding["system"]
                            code = coding["code"]
                            found = exact_get((system, code))
                            if found:
                                targets = [*targets, *found] if targets else list(found)
                            for rule_system, prefix, rule_targets in prefixes:
                                if system == rule_system and code.startswith(prefix):
                                    targets = [*targets, *rule_targets] if targets else list(rule_targets)
                    seen.add(resource_type)
                    if targets:
                        _route(resource, targets, key=key, medication=None, candidates=candidates)
                    continue
            except (KeyError, TypeError, AttributeError):
                pass
            self._visit_entry(entry, key, seen)

    def _visit_entry(self, entry: object, key: str, seen: set[str]) -> None:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            full_url = entry.get("fullUrl") if isinstance(entry, dict) else None
            self.visit(resource, full_url if isinstance(full_url, str) else None, key, seen)

    def visit(self, resource: dict[str, Any], full_url: str | None, key: str, seen: set[str]) -> None:
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or resource_type == "OperationOutcome":
            # Epic puts a "no results" OperationOutcome inside empty searchsets (search.mode = outcome).
            return
        seen.add(resource_type)
        dispatch = self.dispatch.get(resource_type)
        if dispatch is not None:
            if resource_type == "MedicationRequest" and "medicationCodeableConcept" not in resource:
                self.deferred.append((key, resource))
                return
            concepts = (
                [resource.get("code")]
                if resource_type in _CODED_BY_CODE
                else _code_elements(resource_type, resource)
            )
            targets = _hits(dispatch, concepts)
            if targets:  # most resources of a prefetch match no feature
                _route(resource, targets, key=key, medication=None, candidates=self.scan.candidates)
        elif resource_type == "Patient":
            self.scan.patients.append((key, resource))
        elif resource_type == "Medication":
            for index_key in medication_keys(full_url, resource):
                self.medications.setdefault(index_key, resource)

    def resolve_deferred(self) -> None:
        for key, request in self.deferred:
            medication, reference = resolve_medication(request, self.medications)
            if medication is None:
                self.scan.unresolved_medications.append((key, request, reference or "(no medication[x])"))
                continue
            concepts = [medication.get("code"), *_ingredient_concepts(medication)]
            targets = _hits(self.dispatch["MedicationRequest"], concepts)
            if targets:
                _route(request, targets, key=key, medication=reference, candidates=self.scan.candidates)


def _unpack(key: str, value: object, notes: list[str]) -> tuple[KeyStatus, list[Any]]:
    """The status of one prefetch value and, for a Bundle, its entries (still unchecked)."""
    if value is None:
        return KeyStatus.NULL, []
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        notes.append(f"prefetch key {key!r} does not hold a FHIR resource; ignored")
        return KeyStatus.INVALID, []
    resource_type = value["resourceType"]
    if resource_type == "OperationOutcome":
        notes.append(f"prefetch key {key!r} holds an OperationOutcome: the client could not fetch it")
        return KeyStatus.OPERATION_OUTCOME, []
    if resource_type != "Bundle":
        return KeyStatus.RESOURCE, []
    entries = value.get("entry", [])
    if not isinstance(entries, list):
        notes.append(f"prefetch key {key!r}: Bundle.entry is not a list; ignored")
        return KeyStatus.INVALID, []
    if any(isinstance(link, dict) and link.get("relation") == "next" for link in _as_list(value.get("link"))):
        notes.append(f"prefetch key {key!r} is one page of a paginated search; later pages were not read")
    return KeyStatus.BUNDLE, entries


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _code_elements(resource_type: str, resource: dict[str, Any]) -> list[object]:
    if resource_type == "Encounter":
        return [*_as_list(resource.get("type")), resource.get("class")]
    if resource_type == "MedicationRequest":
        return [resource.get("medicationCodeableConcept")]
    return [resource.get("code")]


def _ingredient_concepts(medication: dict[str, Any]) -> Iterator[object]:
    for ingredient in _as_list(medication.get("ingredient")):
        if isinstance(ingredient, dict):
            yield ingredient.get("itemCodeableConcept")


def _hits(dispatch: ResourceDispatch, concepts: list[object]) -> list[Target] | None:
    """Every dispatch target of every well-formed coding, or None.

    Written out (no iter_codings generator, no list until a hit): this runs for every resource of
    the prefetch, and most match no feature.
    """
    exact_get = dispatch.exact.get
    prefixes = dispatch.prefixes
    found: list[Target] | None = None
    for concept in concepts:
        if not isinstance(concept, dict):
            continue
        codings = concept.get("coding")
        if codings is None:
            codings = [concept]  # a bare Coding, such as Encounter.class
        elif not isinstance(codings, list):
            continue
        for coding in codings:
            if not isinstance(coding, dict):
                continue
            system = coding.get("system")
            code = coding.get("code")
            if not isinstance(system, str) or not isinstance(code, str):
                continue
            targets = exact_get((system, code))
            if targets:
                found = [*found, *targets] if found else list(targets)
            for rule_system, prefix, rule_targets in prefixes:
                if system == rule_system and code.startswith(prefix):
                    found = [*found, *rule_targets] if found else list(rule_targets)
    return found


def _route(
    resource: dict[str, Any],
    targets: list[Target],
    *,
    key: str,
    medication: str | None,
    candidates: list[list[Candidate]],
) -> None:
    if len(targets) == 1 and targets[0].components is None:
        # The usual case: one coding, one feature.
        candidates[targets[0].slot].append((resource, None, key, medication))
        return
    # A resource coded twice for one concept (LOINC and a local code) still counts once.
    routed: set[tuple[int, int]] = set()
    components: list[tuple[dict[str, Any], list[tuple[str, str]]]] | None = None
    for target in targets:
        if target.components is None:
            if (target.slot, 0) not in routed:
                routed.add((target.slot, 0))
                candidates[target.slot].append((resource, None, key, medication))
            continue
        if components is None:  # read once, however many features look into this panel
            components = [
                (component, list(iter_codings(component.get("code"))))
                for component in _as_list(resource.get("component"))
                if isinstance(component, dict)
            ]
        for component, codings in components:
            if (target.slot, id(component)) in routed:
                continue
            if any(target.components.contains(system, code) for system, code in codings):
                routed.add((target.slot, id(component)))
                candidates[target.slot].append((resource, component, key, medication))
