"""Prefetch completion, exactly as the CDS Hooks matrix says (no I/O here: fetching goes through a fetcher).

Per declared key, what the client sent decides what we do:

================================  ===============================================================
``prefetch[key]``                 what happens
================================  ===============================================================
absent                            fetch it from ``fhirServer``; required and impossible → 412
``null``                          the client has no data: the key is empty, never refetched
a resource of the expected type   used (a Patient that is not ``context.patientId`` is discarded)
a searchset Bundle                used; OperationOutcome entries and other patients' entries removed;
                                  ``next`` pages followed from ``fhirServer`` when possible
an OperationOutcome               per key policy: refetch (default), fail, or pass it on
anything else                     treated as absent (wrong type, wrong patient, not an object)
================================  ===============================================================
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta
from typing import Any
from typing import Protocol
from urllib.parse import unquote

from cds_server.errors import PayloadTooLarge
from cds_server.hooks.request import FHIR_ID
from cds_server.hooks.request import HookRequest
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import OutcomePolicy
from cds_server.hooks.service import PrefetchSpec

_TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_TODAY = re.compile(r"^today\(\)\s*(?:([+-])\s*(\d{1,5})\s*days?)?$")
_ID_ONLY = re.compile(f"^{FHIR_ID}$")
_TYPED_ID = re.compile(f"^[A-Z][A-Za-z]{{1,63}}/{FHIR_ID}$")
#: Most entries accepted in one prefetched Bundle; a bigger one is refused (413), not processed.
MAX_SENT_BUNDLE_ENTRIES = 10_000

_USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class TemplateUnresolvable(ValueError):
    """A template names a token this request cannot fill (absent optional context, unknown token)."""


@dataclass(frozen=True)
class FhirQuery:
    """One FHIR interaction relative to ``fhirServer`` (or an absolute ``next`` link to continue)."""

    key: str
    path: str = ""
    params: tuple[tuple[str, str], ...] = ()
    next_url: str | None = None

    @property
    def is_search(self) -> bool:
        return self.next_url is not None or "/" not in self.path


@dataclass(frozen=True)
class FetchResult:
    """What the fetcher got for one query: a resource/Bundle, or the reason it got nothing."""

    value: dict[str, Any] | None = None
    reason: str | None = None
    calls: int = 0
    #: more pages existed than the page cap allowed
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None


class FhirFetcher(Protocol):
    """Reads from the request's FHIR server. Implementations live in :mod:`cds_server.fhir`."""

    def fetch(self, queries: Sequence[FhirQuery], *, deadline: float) -> Mapping[str, FetchResult]:
        """Run the queries (in parallel where possible) and answer by key before ``deadline`` (monotonic)."""
        ...


class Source(enum.Enum):
    PREFETCH = "prefetch"
    FETCHED = "fetched"
    NO_DATA = "null"
    UNAVAILABLE = "unavailable"


@dataclass
class KeyReport:
    """How one key was completed; audit-safe (no content)."""

    key: str
    source: Source
    resource_type: str | None = None
    calls: int = 0
    entries: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    reason: str | None = None
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "source": self.source.value}
        for name in ("resource_type", "reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.calls:
            out["calls"] = self.calls
        if self.entries:
            out["entries"] = self.entries
        if self.dropped:
            out["dropped"] = dict(self.dropped)
        if self.truncated:
            out["truncated"] = True
        return out


@dataclass(frozen=True)
class CompletedPrefetch:
    values: dict[str, Any]
    #: optional keys the service must do without → reason
    unavailable: dict[str, str]
    #: required keys that could not be had → reason (the caller answers 412)
    missing_required: dict[str, str]
    report: tuple[KeyReport, ...]

    @property
    def fhir_calls(self) -> int:
        return sum(item.calls for item in self.report)


# --- templates ---------------------------------------------------------------------------------


def render_template(template: str, request: HookRequest, *, today: date, key: str = "") -> FhirQuery:
    """Fill a prefetch template's tokens from the request context into a :class:`FhirQuery`.

    Literal parts of the template are percent-decoded and every value is sent through the HTTP
    client's own encoding, so ``system|code`` is encoded once and a context value can never add a
    parameter or a path segment.
    """
    path, _, query = template.partition("?")
    rendered_path = _TOKEN.sub(lambda m: _path_value(m.group(1), request, today), path)
    params: list[tuple[str, str]] = []
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        literal_parts = _TOKEN.split(value)
        # _TOKEN.split alternates literal, token, literal, ...
        rendered = "".join(
            unquote(part) if index % 2 == 0 else _token_value(part, request, today)
            for index, part in enumerate(literal_parts)
        )
        params.append((unquote(name), rendered))
    if not re.fullmatch(rf"[A-Z][A-Za-z]{{1,63}}(/{FHIR_ID})?", rendered_path):
        raise TemplateUnresolvable("the template does not render to a FHIR read or type search")
    return FhirQuery(key=key, path=rendered_path, params=tuple(params))


def _path_value(token: str, request: HookRequest, today: date) -> str:
    value = _token_value(token, request, today)
    if not (_ID_ONLY.match(value) or _TYPED_ID.match(value)):
        raise TemplateUnresolvable("a path token is not a FHIR id")
    return value


def _token_value(token: str, request: HookRequest, today: date) -> str:
    if token.startswith("context."):
        value = request.context.get(token.removeprefix("context."))
        # only root-level primitives are tokens (CDS Hooks 2.0)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float) and value != "":
            return str(value)
        raise TemplateUnresolvable("a context token has no primitive value in this request")
    if token in _USER_TOKENS:
        user = request.user_id or ""
        kind, _, ident = user.partition("/")
        if kind == _USER_TOKENS[token] and ident:
            return ident
        raise TemplateUnresolvable("the user token does not match context.userId")
    match = _TODAY.match(token)
    if match:
        sign, days = match.group(1), int(match.group(2) or 0)
        return (today + timedelta(days=-days if sign == "-" else days)).isoformat()
    raise TemplateUnresolvable("unsupported prefetch token")


# --- classification of what the client sent ----------------------------------------------------


@dataclass
class _Decision:
    value: Any = None
    final: bool = False
    fetch: bool = False
    fail_reason: str | None = None
    continue_url: str | None = None


def _classify(spec: PrefetchSpec, value: Any, expected_id: str | None, report: KeyReport) -> _Decision:
    """Decide what to do with the value the client sent for ``spec.key`` (``null`` handled before)."""
    resource_type = value.get("resourceType") if isinstance(value, dict) else None
    if resource_type == "OperationOutcome":
        report.dropped["operation-outcome"] = 1
        if spec.on_outcome is OutcomePolicy.PASS_THROUGH:
            report.resource_type = resource_type
            return _Decision(value=value, final=True)
        if spec.on_outcome is OutcomePolicy.FAIL:
            return _Decision(fail_reason="client-reported-error")
        return _Decision(fetch=True)
    problem = _misfit(spec, value, resource_type, expected_id)
    if problem is not None:
        report.dropped[problem] = 1
        return _Decision(fetch=True)
    report.resource_type = resource_type
    return _Decision(value=value, final=True, continue_url=next_link(value) if spec.is_search else None)


def _misfit(spec: PrefetchSpec, value: Any, resource_type: Any, expected_id: str | None) -> str | None:
    """Why a sent value cannot stand for ``spec`` (it is then fetched instead), or ``None``."""
    if not isinstance(value, dict):
        return "not-a-resource"
    if spec.is_read:
        if resource_type != spec.resource_type:
            return "wrong-resource-type"
        if expected_id is not None and value.get("id") != expected_id:
            # never use another patient's (or encounter's) data, whatever the client sent
            return "wrong-resource-id"
        return None
    if resource_type != "Bundle" or value.get("type") not in ("searchset", "collection"):
        return "wrong-resource-type"
    return None


def next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def clean_bundle(bundle: Mapping[str, Any], patient_id: str | None, report: KeyReport) -> dict[str, Any]:
    """A copy of a searchset keeping only resources of this patient; outcome entries are dropped.

    Epic puts a warning OperationOutcome ("no results") inside empty searchsets; a misbehaving
    client or server could put another patient's resources in a patient search.

    :raise PayloadTooLarge: more than :data:`MAX_SENT_BUNDLE_ENTRIES` entries.
    """
    kept = []
    entries = bundle.get("entry")
    if isinstance(entries, list) and len(entries) > MAX_SENT_BUNDLE_ENTRIES:
        raise PayloadTooLarge(f"A prefetch Bundle has more than {MAX_SENT_BUNDLE_ENTRIES} entries.")
    # this loop runs for every entry of every prefetch: plain type() checks and one lookup each
    own_reference = f"Patient/{patient_id}"
    for entry in entries if isinstance(entries, list) else ():
        resource = entry.get("resource") if type(entry) is dict else None
        if type(resource) is not dict:
            report.dropped["malformed-entry"] = report.dropped.get("malformed-entry", 0) + 1
            continue
        search = entry.get("search")
        if resource.get("resourceType") == "OperationOutcome" or (
            type(search) is dict and search.get("mode") == "outcome"
        ):
            report.dropped["operation-outcome"] = report.dropped.get("operation-outcome", 0) + 1
            continue
        if patient_id is not None and _belongs_to_other_patient(resource, patient_id, own_reference):
            report.dropped["other-patient"] = report.dropped.get("other-patient", 0) + 1
            continue
        kept.append(entry)
    cleaned = {key: value for key, value in bundle.items() if key not in ("entry", "link")}
    cleaned["entry"] = kept
    report.entries = len(kept)
    return cleaned


def _belongs_to_other_patient(resource: Mapping[str, Any], patient_id: str, own_reference: str) -> bool:
    if resource.get("resourceType") == "Patient":
        return resource.get("id") != patient_id
    for element in ("subject", "patient"):
        ref = resource.get(element)
        if type(ref) is dict:
            reference = ref.get("reference")
            if reference == own_reference:  # the common case, answered without parsing
                return False
            if isinstance(reference, str) and "Patient/" in reference:
                return reference.rsplit("Patient/", 1)[1].split("/", 1)[0] != patient_id
    return False


def _merge_pages(first: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    extra = more.get("entry")
    merged = dict(first)
    merged["entry"] = list(first.get("entry", [])) + (list(extra) if isinstance(extra, list) else [])
    return merged


# --- completion --------------------------------------------------------------------------------


def complete_prefetch(
    service: CdsService,
    request: HookRequest,
    *,
    fetcher: FhirFetcher,
    today: date,
    deadline: float,
) -> CompletedPrefetch:
    """Complete the service's prefetch for this request; never raises for missing data.

    Required keys that could be neither used nor fetched are listed in ``missing_required``.
    """
    completion = _Completion(request)
    for spec in service.prefetch:
        completion.take(spec, today)
    if completion.queries:
        results = fetcher.fetch(completion.queries, deadline=deadline)
        for query in completion.queries:
            completion.absorb(query, results.get(query.key, FetchResult(reason="not-fetched")))
    return completion.finish(service.prefetch)


class _Completion:
    """The state of one prefetch completion: what was used, what to fetch, what failed."""

    def __init__(self, request: HookRequest) -> None:
        self.request = request
        self.sent = request.prefetch or {}
        self.patient_id = request.patient_id
        self.values: dict[str, Any] = {}
        self.reports: dict[str, KeyReport] = {}
        self.failures: dict[str, str] = {}
        self.queries: list[FhirQuery] = []

    def take(self, spec: PrefetchSpec, today: date) -> None:
        """Use what the client sent for ``spec.key``, or plan a fetch."""
        report = self.reports[spec.key] = KeyReport(spec.key, Source.PREFETCH)
        try:
            query: FhirQuery | None = render_template(spec.template, self.request, today=today, key=spec.key)
        except TemplateUnresolvable:
            query = None
        if spec.key in self.sent and self.sent[spec.key] is None:
            report.source = Source.NO_DATA
            self.values[spec.key] = None
            return
        expected_id = query.path.partition("/")[2] if query is not None and spec.is_read else None
        decision = (
            _classify(spec, self.sent[spec.key], expected_id, report) if spec.key in self.sent else None
        )
        if decision is not None and decision.fail_reason:
            self.failures[spec.key] = decision.fail_reason
        elif decision is not None and decision.final:
            value = decision.value
            is_bundle = report.resource_type == "Bundle"
            self.values[spec.key] = clean_bundle(value, self.patient_id, report) if is_bundle else value
            if decision.continue_url:
                self.queries.append(FhirQuery(key=spec.key, next_url=decision.continue_url))
        elif query is None:
            self.failures[spec.key] = "template-unresolvable"
        else:
            report.source = Source.FETCHED
            self.queries.append(query)

    def absorb(self, query: FhirQuery, result: FetchResult) -> None:
        """Take one fetch result into the completion."""
        report = self.reports[query.key]
        report.calls += result.calls
        report.truncated = report.truncated or result.truncated
        if query.next_url is not None:
            # a client's partial Bundle stays usable when its further pages cannot be had
            if result.ok and result.value is not None:
                page = clean_bundle(result.value, self.patient_id, KeyReport(query.key, Source.FETCHED))
                self.values[query.key] = _merge_pages(self.values[query.key], page)
                report.entries = len(self.values[query.key]["entry"])
            else:
                report.truncated = True
        elif not result.ok or result.value is None:
            self.failures[query.key] = result.reason or "no-data"
        else:
            report.resource_type = str(result.value.get("resourceType"))
            value = result.value
            self.values[query.key] = (
                clean_bundle(value, self.patient_id, report) if query.is_search else value
            )

    def finish(self, specs: Sequence[PrefetchSpec]) -> CompletedPrefetch:
        unavailable: dict[str, str] = {}
        missing_required: dict[str, str] = {}
        for spec in specs:
            if spec.key not in self.failures:
                continue
            report = self.reports[spec.key]
            report.source, report.reason = Source.UNAVAILABLE, self.failures[spec.key]
            if spec.required:
                missing_required[spec.key] = self.failures[spec.key]
            else:
                unavailable[spec.key] = self.failures[spec.key]
                self.values[spec.key] = None
        return CompletedPrefetch(
            values=self.values,
            unavailable=unavailable,
            missing_required=missing_required,
            report=tuple(self.reports.values()),
        )
