"""The bad-input corpus (reliability-security §4.4) at the HTTP layer: always a 4xx OperationOutcome."""

from __future__ import annotations

import io
import json

import pytest
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.assertions import error_code
from tests.support.requests import golden_request

URL = "/cds-services/showcase"
JSON = "application/json"


def post_raw(client: FlaskClient, data: bytes, content_type: str = JSON):  # type: ignore[no-untyped-def]
    return client.post(URL, data=data, content_type=content_type)


def valid_bytes() -> bytes:
    return json.dumps(golden_request("patient-view")).encode()


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""]
)
def test_wrong_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    assert_operation_outcome(post_raw(client, valid_bytes(), content_type), 415, "unsupported-media-type")


def test_fhir_json_and_utf8_charset_are_accepted(client: FlaskClient) -> None:
    assert post_raw(client, valid_bytes(), "application/fhir+json").status_code == 200
    assert post_raw(client, valid_bytes(), "application/json; charset=UTF-8").status_code == 200
    assert_operation_outcome(
        post_raw(client, valid_bytes(), "application/json; charset=latin-1"), 415, "unsupported-media-type"
    )


def test_oversized_body_is_413(make_app: AppFactory) -> None:
    client = make_app(max_body_bytes=1024).test_client()
    assert_operation_outcome(post_raw(client, b"{" + b" " * 2048 + b"}"), 413, "payload-too-large")


def test_oversized_chunked_body_is_413(make_app: AppFactory) -> None:
    client = make_app(max_body_bytes=1024).test_client()
    response = client.post(
        URL,
        input_stream=io.BytesIO(b'{"hook":"' + b"x" * 4096 + b'"}'),
        headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"},
        # what gunicorn sets for a chunked request: the stream ends where the body ends
        environ_base={"wsgi.input_terminated": True},
    )
    assert_operation_outcome(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   ",
        b"\xff\xfe",
        b"\xef\xbb\xbf" + b'{"hook": "patient-view"}',
        b'{"hook":',
        b"[" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"hook": NaN}',
        b'{"hook": Infinity}',
        b'{"hook": -Infinity}',
        b'{"x": 1e999999}',
        b'{"x": ' + b"9" * 5000 + b"}",
        b'{"hook": "\\ud800"}',
        b"{'hook': 'patient-view'}",
        b'{"hook": "patient-view",}',
    ],
)
def test_malformed_json_is_400(client: FlaskClient, data: bytes) -> None:
    assert_operation_outcome(post_raw(client, data), 400, "invalid-json")


@pytest.mark.parametrize("data", [b"null", b"[]", b'"s"', b"123", b"true"])
def test_top_level_must_be_an_object(client: FlaskClient, data: bytes) -> None:
    assert_operation_outcome(post_raw(client, data), 400, "invalid-hook-request")


def test_duplicate_envelope_keys_are_rejected(client: FlaskClient) -> None:
    body = valid_bytes()
    duplicated_hook = body.replace(b'"hook": "patient-view"', b'"hook": "order-sign", "hook": "patient-view"')
    assert_operation_outcome(post_raw(client, duplicated_hook), 400, "invalid-json")
    duplicated_patient = body.replace(b'"patientId": "1288992"', b'"patientId": "1", "patientId": "1288992"')
    assert_operation_outcome(post_raw(client, duplicated_patient), 400, "invalid-json")


def test_repeated_key_names_in_different_objects_are_fine(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    body["extension"] = {"x": {"context": 1}, "y": {"context": 2, "hook": "z"}}
    assert client.post(URL, json=body).status_code == 200


def test_nul_in_patient_id_is_400(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    body["context"]["patientId"] = "12\u000034"
    assert_operation_outcome(client.post(URL, json=body), 400, "invalid-hook-request")


@pytest.mark.parametrize("patient_id", ["123&_include=*", "../Practitioner/1", "123?_count=100000", "123#x"])
def test_patient_id_injection_is_400(client: FlaskClient, patient_id: str) -> None:
    body = golden_request("patient-view")
    body["context"]["patientId"] = patient_id
    assert_operation_outcome(client.post(URL, json=body), 400, "invalid-hook-request")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "TRACE"])
def test_other_methods_are_405_with_allow(client: FlaskClient, method: str) -> None:
    response = client.open(URL, method=method)
    assert_operation_outcome(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_huge_prefetch_bundle_is_413(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    body["prefetch"]["bloodPressure"]["entry"] = [{}] * 200_000
    response = client.post("/cds-services/patient-summary", json=body)
    assert_operation_outcome(response, 413, "payload-too-large")


def test_unknown_fields_everywhere_are_ignored(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    body["future"] = {"nested": [1, {"x": None}]}
    body["fhirAuthorization"]["new_field"] = "x"
    body["context"]["zeroWidth\u200b"] = "\u202eRTL\U0001f600"
    assert client.post(URL, json=body).status_code == 200


def test_no_input_in_this_corpus_produced_a_500(client: FlaskClient) -> None:
    # A compact sweep of odd-but-valid JSON shapes at every envelope position.
    oddities = [None, 0, -1, 1.5, True, "", "x" * 10_000, [], {}, [None], {"": ""}]
    for field in (
        "hook",
        "hookInstance",
        "fhirServer",
        "fhirAuthorization",
        "context",
        "prefetch",
        "extension",
    ):
        for value in oddities:
            body = golden_request("patient-view")
            body[field] = value
            response = client.post("/cds-services/patient-summary", json=body)
            assert response.status_code < 500, (field, value, response.json)
            if response.status_code >= 400:
                error_code(response)


def test_duplicate_envelope_key_after_the_prefetch_is_rejected(client: FlaskClient) -> None:
    body = valid_bytes()
    assert body.rstrip().endswith(b"}")
    # a second "hook" placed after the (large) prefetch object, at the top level
    tampered = body.rstrip()[:-1] + b', "hook": "order-sign"}'
    assert_operation_outcome(post_raw(client, tampered), 400, "invalid-json")


def test_repeated_names_inside_prefetch_resources_are_not_envelope_duplicates(client: FlaskClient) -> None:
    body = golden_request("patient-view")
    patient = body["prefetch"]["patient"]
    patient["extension"] = [{"url": "urn:x", "valueString": "a"}]
    raw = json.dumps(body).encode()
    # the same key twice inside a FHIR resource of the prefetch: last wins, as in every JSON parser
    raw = raw.replace(b'"valueString": "a"', b'"valueString": "a", "valueString": "b"')
    assert post_raw(client, raw).status_code == 200
