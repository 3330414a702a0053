"""Request validation: every hook's context, the envelope rules, and errors that never echo input."""

from __future__ import annotations

from typing import Any

import pytest

from cds_server.errors import InvalidHookRequest
from cds_server.hooks.request import parse_hook_request
from tests.support.requests import golden_request


@pytest.mark.parametrize(
    "name", ["patient-view", "order-select", "order-sign", "encounter-start", "encounter-discharge"]
)
def test_golden_requests_of_every_hook_are_valid(name: str) -> None:
    request = parse_hook_request(golden_request(name))
    assert request.hook == name
    assert request.patient_id == "1288992"


def _invalid(body: Any) -> InvalidHookRequest:
    with pytest.raises(InvalidHookRequest) as caught:
        parse_hook_request(body)
    return caught.value


@pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
def test_missing_required_envelope_field_is_named(field: str) -> None:
    body = golden_request("patient-view")
    del body[field]
    error = _invalid(body)
    assert any(issue.startswith(field) for issue in error.issues)


@pytest.mark.parametrize("value", ["", "not-a-uuid", "d1577c69dfbe44adba6d3e05e953b2ea", "x" * 10240, 42])
def test_hook_instance_must_be_a_uuid(value: Any) -> None:
    body = golden_request("patient-view")
    body["hookInstance"] = value
    assert any(issue.startswith("hookInstance") for issue in _invalid(body).issues)


def test_fhir_authorization_requires_fhir_server_cds_r_1() -> None:
    body = golden_request("patient-view")
    del body["fhirServer"]
    error = _invalid(body)
    assert any("cds-r-1" in issue for issue in error.issues)


@pytest.mark.parametrize(
    ("hook", "missing"),
    [
        ("patient-view", "patientId"),
        ("patient-view", "userId"),
        ("order-select", "selections"),
        ("order-select", "draftOrders"),
        ("order-sign", "draftOrders"),
        ("encounter-start", "encounterId"),
        ("encounter-discharge", "encounterId"),
    ],
)
def test_context_fields_required_per_hook(hook: str, missing: str) -> None:
    body = golden_request(hook)
    del body["context"][missing]
    assert f"context.{missing}: Field required" in _invalid(body).issues


@pytest.mark.parametrize(
    "patient_id",
    ["123&_include=*", "../Practitioner/1", "123?_count=100000", "123#x", "a\u0000b", "", "x" * 65],
)
def test_patient_id_must_be_a_fhir_id(patient_id: str) -> None:
    body = golden_request("patient-view")
    body["context"]["patientId"] = patient_id
    error = _invalid(body)
    assert error.issues
    assert all(patient_id not in issue for issue in error.issues if patient_id)


@pytest.mark.parametrize("user_id", ["example", "Organization/1", "Practitioner/", "Practitioner/a b"])
def test_user_id_is_a_typed_reference(user_id: str) -> None:
    body = golden_request("patient-view")
    body["context"]["userId"] = user_id
    assert any(issue.startswith("context.userId") for issue in _invalid(body).issues)


def test_context_must_be_an_object() -> None:
    body = golden_request("patient-view")
    body["context"] = ["patientId", "1"]
    assert any(issue.startswith("context") for issue in _invalid(body).issues)


def test_draft_orders_must_be_a_bundle() -> None:
    body = golden_request("order-sign")
    body["context"]["draftOrders"] = {"resourceType": "MedicationRequest"}
    assert any(issue.startswith("context.draftOrders") for issue in _invalid(body).issues)


@pytest.mark.parametrize("body", [None, [], "s", 123])
def test_top_level_must_be_an_object(body: Any) -> None:
    _invalid(body)


def test_unknown_fields_and_extensions_are_tolerated() -> None:
    body = golden_request("patient-view")
    body["extension"] = {"com.epic.cdshooks.request.bpa-trigger-action": "OnPatientChartOpen"}
    body["somethingNew"] = {"a": 1}
    body["context"]["somethingElse"] = True
    request = parse_hook_request(body)
    assert request.extension == {"com.epic.cdshooks.request.bpa-trigger-action": "OnPatientChartOpen"}


def test_unknown_hook_gets_the_generic_checks_only() -> None:
    body = golden_request("patient-view")
    body["hook"] = "com.example.custom-hook"
    body["context"] = {"anything": [1, 2]}
    assert parse_hook_request(body).hook == "com.example.custom-hook"


def test_errors_never_echo_the_input() -> None:
    body = golden_request("patient-view")
    body["context"]["patientId"] = "ZZCANARY-7F3A&x"
    body["fhirAuthorization"]["expires_in"] = "tok-CANARY-not-an-int"
    error = _invalid(body)
    text = repr(error.to_operation_outcome())
    assert "CANARY" not in text


def test_access_token_is_not_in_the_repr() -> None:
    request = parse_hook_request(golden_request("patient-view"))
    assert request.fhirAuthorization is not None
    assert "CANARY" not in repr(request)
    assert "CANARY" not in repr(request.fhirAuthorization)


@pytest.mark.parametrize(
    ("token_type", "expires_in", "usable"),
    [
        ("Bearer", 300, True),
        ("bearer", 1, True),
        ("MAC", 300, False),
        ("Bearer", -1, False),
        ("Bearer", 0, False),
    ],
)
def test_token_usability(token_type: str, expires_in: int, usable: bool) -> None:
    body = golden_request("patient-view")
    body["fhirAuthorization"].update(token_type=token_type, expires_in=expires_in)
    authorization = parse_hook_request(body).fhirAuthorization
    assert authorization is not None
    assert authorization.usable() is usable
