"""CDS Hooks prefetch templates: generated from the code sets, or written by hand and checked.

Both stay inside the query subset CDS Hooks 2.0 recommends: a read by id or a search by patient,
token equality (comma = OR, optional ``:in``), dates with ``eq|lt|gt|ge|le``, ``_count`` and
``_sort``. One documented exception is tolerated in hand-written templates:
``_include=MedicationRequest:medication``, which many EHRs honour and which lets
``medicationReference`` be resolved without a second round trip. Relative dates are impossible
in 2.0 templates, so windows are applied by the extractor, not the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from cds_server.features.codesets import CodeSet

#: Default key name per resource type for generated templates.
DEFAULT_KEYS: Mapping[str, str] = {
    "Patient": "patient",
    "Observation": "observations",
    "Condition": "conditions",
    "MedicationRequest": "medications",
    "Encounter": "encounters",
    "Procedure": "procedures",
}

#: Status search parameter per type (Condition searches clinical status, not verification).
STATUS_PARAMETERS: Mapping[str, str] = {
    "Condition": "clinical-status",
    "MedicationRequest": "status",
    "Encounter": "status",
    "Procedure": "status",
}

#: Types whose ``code`` search parameter covers every code the dispatch reads. Not
#: MedicationRequest: its ``code`` only searches ``medicationCodeableConcept``, so a code filter would
#: drop the orders that use ``medicationReference``. Not Encounter: its codes are ``type`` and
#: ``class``, two different parameters.
CODE_SEARCHABLE = frozenset({"Observation", "Condition", "Procedure"})

#: Beyond this, a code list makes the URL fragile; the query then filters by status only and the
#: extractor's dispatch does the code filtering.
MAX_CODE_PARAMETER = 1500

_COUNTS: Mapping[str, int] = {"Observation": 500}
_DEFAULT_COUNT = 200
_SORTED_BY_DATE = frozenset({"Observation", "Encounter", "Procedure"})
_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
_ALLOWED_TOKENS = re.compile(
    r"^(context\.[A-Za-z][A-Za-z0-9]*|userPractitionerId|userPractitionerRoleId|userPatientId|userRelatedPersonId)$"
)
_RESOURCE_TYPE = re.compile(r"^([A-Z][A-Za-z]+)(?:/|\?|$)")
_FORBIDDEN_DATE_PREFIX = re.compile(r"^(ne|sa|eb|ap)\d")
_ALLOWED_INCLUDES = frozenset({"MedicationRequest:medication"})


@dataclass(frozen=True, slots=True)
class PrefetchTemplate:
    query: str
    required: bool
    resource_type: str


@dataclass(frozen=True, slots=True)
class TypeNeeds:
    """What the features of one resource type need from the server."""

    code_sets: tuple[CodeSet, ...]
    statuses: frozenset[str] | None


def encode_codes(code_sets: Iterable[CodeSet]) -> str | None:
    """``system|code,...`` (percent-encoded per token), or None when a set is not enumerable."""
    tokens: list[str] = []
    for code_set in code_sets:
        if not code_set.enumerable:
            return None
        tokens.extend(quote(f"{system}|{code}", safe="") for system, code in sorted(code_set.codes))
    return ",".join(dict.fromkeys(tokens))


def generate(needs: Mapping[str, TypeNeeds]) -> dict[str, PrefetchTemplate]:
    """One required key per resource type the features read."""
    templates: dict[str, PrefetchTemplate] = {}
    for resource_type in DEFAULT_KEYS:
        if resource_type not in needs:
            continue
        key = DEFAULT_KEYS[resource_type]
        if resource_type == "Patient":
            templates[key] = PrefetchTemplate("Patient/{{context.patientId}}", True, "Patient")
            continue
        need = needs[resource_type]
        parameters = ["patient={{context.patientId}}"]
        codes = encode_codes(need.code_sets) if resource_type in CODE_SEARCHABLE else None
        if codes is not None and len(codes) <= MAX_CODE_PARAMETER:
            parameters.append(f"code={codes}")
        status_parameter = STATUS_PARAMETERS.get(resource_type)
        if status_parameter and need.statuses:
            parameters.append(f"{status_parameter}={','.join(sorted(need.statuses))}")
        if resource_type in _SORTED_BY_DATE:
            parameters.append("_sort=-date")
        parameters.append(f"_count={_COUNTS.get(resource_type, _DEFAULT_COUNT)}")
        templates[key] = PrefetchTemplate(f"{resource_type}?{'&'.join(parameters)}", True, resource_type)
    return templates


def expand_and_check(query: str, code_sets: Mapping[str, CodeSet]) -> PrefetchTemplate:
    """Expand ``{{codes:a,b}}`` and check a hand-written template; raises ValueError on a problem."""
    resource_type_match = _RESOURCE_TYPE.match(query)
    if resource_type_match is None:
        raise ValueError(
            f"template {query!r} must start with a resource type, e.g. 'Observation?patient=...'"
        )
    expanded = _TOKEN.sub(lambda match: _expand_token(match[1], code_sets), query)
    _, _, query_string = expanded.partition("?")
    for pair in filter(None, query_string.split("&")):
        name, _, value = pair.partition("=")
        _check_parameter(name, value)
    return PrefetchTemplate(expanded, True, resource_type_match[1])


def _expand_token(token: str, code_sets: Mapping[str, CodeSet]) -> str:
    if token.startswith("codes:"):
        names = [name.strip() for name in token[len("codes:") :].split(",")]
        unknown = [name for name in names if name not in code_sets]
        if unknown:
            raise ValueError(f"{{{{codes:...}}}} names unknown code sets: {', '.join(unknown)}")
        encoded = encode_codes(code_sets[name] for name in names)
        if encoded is None:
            raise ValueError("{{codes:...}} cannot list a code set defined by prefixes")
        return encoded
    if not _ALLOWED_TOKENS.match(token):
        raise ValueError(f"prefetch token {{{{{token}}}}} is not a CDS Hooks 2.0 token")
    return "{{" + token + "}}"


def _check_parameter(name: str, value: str) -> None:
    if name == "_include":
        if value not in _ALLOWED_INCLUDES:
            raise ValueError(f"_include={value} is outside the CDS Hooks recommended prefetch subset")
        return
    if name.startswith("_") and name not in ("_count", "_sort"):
        raise ValueError(f"{name} is outside the CDS Hooks recommended prefetch subset")
    if "." in name or (":" in name and not name.endswith(":in")):
        raise ValueError(f"parameter {name!r} uses a chain or modifier outside the recommended subset")
    for part in value.split(","):
        if _FORBIDDEN_DATE_PREFIX.match(part):
            raise ValueError(f"date prefix in {name}={value} is outside eq|lt|gt|ge|le")
