"""Named code sets: inline codes, code prefixes and pinned ValueSet expansions.

At load every set becomes a frozenset of ``(system, code)`` pairs plus a few ``(system, prefix)``
rules, so testing a coding is one hash lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Short names a spec may use instead of the full code-system URI.
SYSTEM_ALIASES: Mapping[str, str] = {
    "loinc": "http://loinc.org",
    "snomed": "http://snomed.info/sct",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "ucum": "http://unitsofmeasure.org",
    "cdcrec": "urn:oid:2.16.840.1.113883.6.238",
}

Coding = tuple[str, str]


@dataclass(frozen=True, slots=True)
class CodeSet:
    """A compiled code set."""

    name: str
    codes: frozenset[Coding]
    prefixes: tuple[Coding, ...] = ()

    @property
    def enumerable(self) -> bool:
        """True when every member is listed, so a FHIR token search can ask for exactly these."""
        return not self.prefixes

    def contains(self, system: str, code: str) -> bool:
        if (system, code) in self.codes:
            return True
        if not self.prefixes:
            return False
        return any(system == rule_system and code.startswith(prefix) for rule_system, prefix in self.prefixes)

    def matches(self, concept: object) -> bool:
        """Whether any coding of a CodeableConcept (or a bare Coding) is in the set."""
        # Written out rather than via iter_codings: this runs for every Observation component.
        if not isinstance(concept, dict):
            return False
        codings = concept.get("coding")
        if codings is None:
            codings = [concept]
        elif not isinstance(codings, list):
            return False
        for coding in codings:
            if isinstance(coding, dict):
                system = coding.get("system")
                code = coding.get("code")
                if isinstance(system, str) and isinstance(code, str) and self.contains(system, code):
                    return True
        return False


def resolve_system(system: str) -> str:
    return SYSTEM_ALIASES.get(system, system)


def iter_codings(concept: object) -> Iterator[Coding]:
    """``(system, code)`` of every well-formed coding in a CodeableConcept or Coding; junk is skipped."""
    if not isinstance(concept, dict):
        return
    codings = concept.get("coding")
    if codings is None and "code" in concept:
        codings = [concept]
    if not isinstance(codings, list):
        return
    for coding in codings:
        if isinstance(coding, dict):
            system = coding.get("system")
            code = coding.get("code")
            if isinstance(system, str) and isinstance(code, str):
                yield system, code


def codes_from_valueset(resource: Mapping[str, Any]) -> frozenset[Coding]:
    """The members of a ValueSet resource: its expansion, or an enumerated compose."""
    expansion = resource.get("expansion")
    if isinstance(expansion, dict) and isinstance(expansion.get("contains"), list):
        return frozenset(_walk_contains(expansion["contains"]))
    found: set[Coding] = set()
    compose = resource.get("compose")
    for include in compose.get("include", []) if isinstance(compose, dict) else []:
        if include.get("filter") or include.get("valueSet"):
            raise ValueError("ValueSet has an intensional compose and no expansion; pin an expansion")
        system = include.get("system")
        for concept in include.get("concept", []):
            found.add((system, str(concept["code"])))
    if not found:
        raise ValueError("ValueSet has neither expansion.contains nor an enumerated compose")
    return frozenset(found)


def _walk_contains(items: Iterable[Any]) -> Iterator[Coding]:
    for item in items:
        if isinstance(item.get("system"), str) and "code" in item and not item.get("abstract", False):
            yield item["system"], str(item["code"])
        yield from _walk_contains(item.get("contains", []))


def compile_code_set(name: str, raw: Any, valuesets: Mapping[str, frozenset[Coding]]) -> CodeSet:
    """Compile one ``codeSets`` entry. Raises ValueError with a readable problem."""
    includes = raw if isinstance(raw, list) else [raw]
    codes: set[Coding] = set()
    prefixes: list[Coding] = []
    for include in includes:
        if "valueSet" in include:
            url = include["valueSet"]
            if url not in valuesets:
                raise ValueError(f"code set {name!r}: no pinned expansion for ValueSet {url!r} in valuesets/")
            codes.update(valuesets[url])
            continue
        system = resolve_system(include["system"])
        codes.update((system, str(code)) for code in include.get("codes", []))
        prefixes.extend((system, str(prefix)) for prefix in include.get("prefixes", []))
    if not codes and not prefixes:
        raise ValueError(f"code set {name!r} is empty")
    return CodeSet(name=name, codes=frozenset(codes), prefixes=tuple(prefixes))
