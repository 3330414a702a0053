"""The prefetch matrix (absent / null / resource / Bundle / OperationOutcome) and template rendering.

The fetcher here is a recording stand-in for the FHIR server; the same paths run against a real
FHIR server in ``tests/integration/test_gap_fill.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from cds_server.hooks.prefetch import CompletedPrefetch
from cds_server.hooks.prefetch import FetchResult
from cds_server.hooks.prefetch import FhirQuery
from cds_server.hooks.prefetch import TemplateUnresolvable
from cds_server.hooks.prefetch import complete_prefetch
from cds_server.hooks.prefetch import render_template
from cds_server.hooks.request import parse_hook_request
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import OutcomePolicy
from cds_server.hooks.service import PrefetchSpec
from tests.support.requests import golden_request
from tests.support.synthea import searchset

TODAY = date(2026, 11, 29)
PATIENT = {"resourceType": "Patient", "id": "1288992"}
OUTCOME = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception"}]}


def observation(ident: str, patient: str = "1288992") -> dict[str, Any]:
    return {"resourceType": "Observation", "id": ident, "subject": {"reference": f"Patient/{patient}"}}


class RecordingFetcher:
    def __init__(self, results: Mapping[str, FetchResult] | None = None) -> None:
        self.results = dict(results or {})
        self.queries: list[FhirQuery] = []

    def fetch(self, queries: Sequence[FhirQuery], *, deadline: float) -> Mapping[str, FetchResult]:
        self.queries.extend(queries)
        return {
            q.key: self.results.get(q.key, FetchResult(reason="connection-failed", calls=1)) for q in queries
        }


def service(*specs: PrefetchSpec) -> CdsService:
    return CdsService(id="s", hook="patient-view", description="d", handler=lambda call: [], prefetch=specs)


PATIENT_SPEC = PrefetchSpec("patient", "Patient/{{context.patientId}}")
OBS_SPEC = PrefetchSpec("obs", "Observation?patient={{context.patientId}}&code=http://loinc.org|55284-4")


def complete(
    prefetch: dict[str, Any] | None, *specs: PrefetchSpec, fetcher: RecordingFetcher | None = None
) -> tuple[CompletedPrefetch, RecordingFetcher]:
    body = golden_request("patient-view")
    if prefetch is None:
        body.pop("prefetch")
    else:
        body["prefetch"] = prefetch
    fetcher = fetcher or RecordingFetcher()
    result = complete_prefetch(
        service(*(specs or (PATIENT_SPEC, OBS_SPEC))),
        parse_hook_request(body),
        fetcher=fetcher,
        today=TODAY,
        deadline=0,
    )
    return result, fetcher


# --- the matrix --------------------------------------------------------------------------------


def test_complete_prefetch_is_used_and_nothing_is_fetched() -> None:
    result, fetcher = complete({"patient": PATIENT, "obs": searchset([observation("o1")])})
    assert fetcher.queries == []
    assert result.values["patient"] == PATIENT
    assert [e["resource"]["id"] for e in result.values["obs"]["entry"]] == ["o1"]
    assert not result.missing_required


def test_absent_key_is_fetched() -> None:
    fetched = searchset([observation("o2")])
    result, fetcher = complete(
        {"patient": PATIENT}, fetcher=RecordingFetcher({"obs": FetchResult(value=fetched, calls=1)})
    )
    (query,) = fetcher.queries
    assert query.key == "obs"
    assert result.values["obs"]["entry"][0]["resource"]["id"] == "o2"
    assert {r.key: r.source.value for r in result.report} == {"patient": "prefetch", "obs": "fetched"}


def test_null_means_no_data_and_is_never_refetched() -> None:
    result, fetcher = complete({"patient": PATIENT, "obs": None})
    assert fetcher.queries == []
    assert result.values["obs"] is None
    assert not result.missing_required
    assert not result.unavailable


def test_required_key_that_cannot_be_fetched_is_reported_missing() -> None:
    result, _ = complete({"patient": PATIENT})
    assert result.missing_required == {"obs": "connection-failed"}


def test_optional_key_that_cannot_be_fetched_is_unavailable_not_fatal() -> None:
    optional = PrefetchSpec("obs", OBS_SPEC.template, required=False)
    result, _ = complete({"patient": PATIENT}, PATIENT_SPEC, optional)
    assert result.unavailable == {"obs": "connection-failed"}
    assert result.values["obs"] is None
    assert not result.missing_required


def test_operation_outcome_is_refetched_by_default() -> None:
    fetched = searchset([observation("o3")])
    result, fetcher = complete(
        {"patient": PATIENT, "obs": OUTCOME},
        fetcher=RecordingFetcher({"obs": FetchResult(value=fetched, calls=1)}),
    )
    assert [q.key for q in fetcher.queries] == ["obs"]
    assert result.values["obs"]["entry"][0]["resource"]["id"] == "o3"


def test_operation_outcome_with_fail_policy_is_not_refetched() -> None:
    spec = PrefetchSpec("obs", OBS_SPEC.template, on_outcome=OutcomePolicy.FAIL)
    result, fetcher = complete({"patient": PATIENT, "obs": OUTCOME}, PATIENT_SPEC, spec)
    assert fetcher.queries == []
    assert result.missing_required == {"obs": "client-reported-error"}


def test_operation_outcome_with_pass_through_policy_reaches_the_service() -> None:
    spec = PrefetchSpec("obs", OBS_SPEC.template, on_outcome=OutcomePolicy.PASS_THROUGH)
    result, _ = complete({"patient": PATIENT, "obs": OUTCOME}, PATIENT_SPEC, spec)
    assert result.values["obs"] == OUTCOME


def test_outcome_entries_inside_a_searchset_are_dropped() -> None:
    bundle = searchset([observation("o1")])
    bundle["entry"].append(
        {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}}
    )
    result, _ = complete({"patient": PATIENT, "obs": bundle})
    assert [e["resource"]["id"] for e in result.values["obs"]["entry"]] == ["o1"]
    report = {r.key: r for r in result.report}["obs"]
    assert report.dropped == {"operation-outcome": 1}


def test_empty_searchset_with_epic_warning_is_no_results() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": 0,
        "entry": [
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "warning",
                            "code": "processing",
                            "diagnostics": "Resource request returns no results.",
                        }
                    ],
                },
                "search": {"mode": "outcome"},
            }
        ],
    }
    result, fetcher = complete({"patient": PATIENT, "obs": bundle})
    assert fetcher.queries == []
    assert result.values["obs"]["entry"] == []


def test_another_patients_resource_is_discarded_and_fetched() -> None:
    other = {"resourceType": "Patient", "id": "someone-else"}
    fetcher = RecordingFetcher({"patient": FetchResult(value=PATIENT, calls=1)})
    result, _ = complete({"patient": other, "obs": searchset([])}, fetcher=fetcher)
    assert [q.path for q in fetcher.queries] == ["Patient/1288992"]
    assert result.values["patient"] == PATIENT


def test_other_patients_entries_are_removed_from_bundles() -> None:
    bundle = searchset([observation("mine"), observation("theirs", patient="999")])
    result, _ = complete({"patient": PATIENT, "obs": bundle})
    assert [e["resource"]["id"] for e in result.values["obs"]["entry"]] == ["mine"]


@pytest.mark.parametrize(
    "sent",
    [
        "a string",
        42,
        [],
        {"resourceType": "Observation", "id": "x"},
        {"resourceType": "Bundle", "type": "transaction"},
    ],
)
def test_wrong_types_are_treated_as_absent(sent: Any) -> None:
    fetcher = RecordingFetcher({"obs": FetchResult(value=searchset([]), calls=1)})
    result, _ = complete({"patient": PATIENT, "obs": sent}, fetcher=fetcher)
    assert [q.key for q in fetcher.queries] == ["obs"]
    assert result.values["obs"]["entry"] == []


def test_next_link_of_a_sent_bundle_is_followed_and_merged() -> None:
    first = searchset([observation("o1")])
    first["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/r4/Observation?page=2"}]
    fetcher = RecordingFetcher({"obs": FetchResult(value=searchset([observation("o2")]), calls=1)})
    result, _ = complete({"patient": PATIENT, "obs": first}, fetcher=fetcher)
    (query,) = fetcher.queries
    assert query.next_url == "https://ehr.example.org/fhir/r4/Observation?page=2"
    assert [e["resource"]["id"] for e in result.values["obs"]["entry"]] == ["o1", "o2"]


def test_unfetchable_next_page_keeps_the_first_page() -> None:
    first = searchset([observation("o1")])
    first["link"] = [{"relation": "next", "url": "https://ehr.example.org/fhir/r4/Observation?page=2"}]
    result, _ = complete({"patient": PATIENT, "obs": first})
    assert [e["resource"]["id"] for e in result.values["obs"]["entry"]] == ["o1"]
    assert {r.key: r for r in result.report}["obs"].truncated


def test_report_counts_calls_and_never_holds_content() -> None:
    fetcher = RecordingFetcher({"obs": FetchResult(value=searchset([observation("o1")]), calls=3)})
    result, _ = complete({"patient": PATIENT}, fetcher=fetcher)
    assert result.fhir_calls == 3
    text = repr([r.as_dict() for r in result.report])
    assert "1288992" not in text


# --- templates -----------------------------------------------------------------------------------


def render(template: str, **context: Any) -> FhirQuery:
    body = golden_request("patient-view")
    body["context"].update(context)
    return render_template(template, parse_hook_request(body), today=TODAY, key="k")


def test_simple_tokens_render_into_path_and_params() -> None:
    assert render("Patient/{{context.patientId}}").path == "Patient/1288992"
    query = render("Encounter?_id={{context.encounterId}}&patient={{ context.patientId }}")
    assert query.path == "Encounter"
    assert query.params == (("_id", "89284"), ("patient", "1288992"))


def test_literal_system_code_is_decoded_once_for_the_client_to_encode() -> None:
    plain = render("Observation?code=http://loinc.org|8480-6")
    encoded = render("Observation?code=http%3A%2F%2Floinc.org%7C8480-6")
    assert plain.params == encoded.params == (("code", "http://loinc.org|8480-6"),)


def test_user_tokens_come_from_user_id() -> None:
    assert render("Practitioner/{{userPractitionerId}}").path == "Practitioner/example"
    with pytest.raises(TemplateUnresolvable):
        render("PractitionerRole/{{userPractitionerRoleId}}")


def test_today_arithmetic() -> None:
    query = render("Observation?date=ge{{today() - 90 days}}&_count=5")
    assert query.params[0] == ("date", "ge2026-08-31")
    assert render("Observation?date=le{{today()}}").params == (("date", "le2026-11-29"),)


@pytest.mark.parametrize(
    "template",
    [
        "Patient/{{context.missingField}}",
        "Patient/{{Patient.id}}",
        "Observation?x={{user}}",
        "{{context.patientId}}",
    ],
)
def test_unresolvable_tokens(template: str) -> None:
    with pytest.raises(TemplateUnresolvable):
        render(template)


def test_context_values_cannot_inject_parameters() -> None:
    body = golden_request("patient-view")
    body["hook"] = "com.example.custom"  # no context schema: the template guard must hold alone
    body["context"]["patientId"] = "1&_include=*"
    request = parse_hook_request(body)
    query = render_template("Observation?patient={{context.patientId}}", request, today=TODAY)
    assert query.params == (("patient", "1&_include=*"),)  # one parameter; httpx encodes the '&'
    with pytest.raises(TemplateUnresolvable):
        render_template("Patient/{{context.patientId}}", request, today=TODAY)


def test_optional_context_missing_makes_the_key_unfetchable_not_a_crash() -> None:
    body = golden_request("patient-view")
    del body["context"]["encounterId"]
    del body["prefetch"]
    spec = PrefetchSpec("encounter", "Encounter/{{context.encounterId}}", required=False)
    result = complete_prefetch(
        service(spec), parse_hook_request(body), fetcher=RecordingFetcher(), today=TODAY, deadline=0
    )
    assert result.unavailable == {"encounter": "template-unresolvable"}
