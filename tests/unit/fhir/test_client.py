"""The FHIR fetcher's own rules: expired tokens are never sent, unusable servers never contacted."""

from __future__ import annotations

import time

import pytest

from cds_server.config import load_settings
from cds_server.fhir.client import FhirGateway
from cds_server.fhir.client import HttpFetcher
from cds_server.fhir.client import UnavailableFetcher
from cds_server.fhir.client import _Access
from cds_server.hooks.prefetch import FhirQuery
from cds_server.hooks.request import parse_hook_request
from tests.support.network import record_connections
from tests.support.requests import golden_request

BASE = "https://ehr.example.org/fhir/r4"


@pytest.fixture
def gateway() -> FhirGateway:
    gateway = FhirGateway(load_settings({"fhir_servers": [BASE], "fhir_allow_private": True}, environ={}))
    yield gateway  # type: ignore[misc]
    gateway.close()


def test_an_expired_token_is_never_sent(gateway: FhirGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    fetcher = HttpFetcher(gateway, _Access(BASE, "tok-CANARY-expired", token_deadline=time.monotonic() - 1))
    with record_connections(monkeypatch) as attempts:
        results = fetcher.fetch([FhirQuery(key="patient", path="Patient/1")], deadline=time.monotonic() + 1)
    assert results["patient"].reason == "token-expired"
    assert attempts == []


def test_a_passed_deadline_makes_no_call(gateway: FhirGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    fetcher = HttpFetcher(gateway, _Access(BASE, None, float("inf")))
    with record_connections(monkeypatch) as attempts:
        results = fetcher.fetch([FhirQuery(key="patient", path="Patient/1")], deadline=time.monotonic() - 1)
    assert results["patient"].reason == "timeout"
    assert attempts == []


def test_access_repr_hides_the_token() -> None:
    assert "CANARY" not in repr(_Access(BASE, "tok-CANARY-x", 0.0))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"fhirServer": None, "fhirAuthorization": None}, "no-fhir-server"),
        ({"fhirServer": "https://other.example.org/fhir"}, "fhir-server-not-allowed"),
        ({"fhirAuthorization": None}, "no-usable-fhir-authorization"),
    ],
)
def test_requests_without_usable_access_get_an_unavailable_fetcher(
    gateway: FhirGateway, change: dict[str, object], reason: str
) -> None:
    body = golden_request("patient-view")
    body["fhirServer"] = BASE
    for key, value in change.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    fetcher = gateway.for_request(parse_hook_request(body), received=time.monotonic())
    assert isinstance(fetcher, UnavailableFetcher)
    assert fetcher.reason == reason


def test_unusable_token_type_is_not_sent(gateway: FhirGateway) -> None:
    body = golden_request("patient-view")
    body["fhirServer"] = BASE
    body["fhirAuthorization"]["token_type"] = "MAC"
    fetcher = gateway.for_request(parse_hook_request(body), received=time.monotonic())
    assert isinstance(fetcher, UnavailableFetcher)


def test_allowed_base_is_the_checked_server_or_nothing(gateway: FhirGateway) -> None:
    body = golden_request("patient-view")
    body["fhirServer"] = BASE + "/"
    assert gateway.allowed_base(parse_hook_request(body)) == BASE
    body["fhirServer"] = "https://elsewhere.example.org/fhir"
    assert gateway.allowed_base(parse_hook_request(body)) is None
    body.pop("fhirServer")
    body.pop("fhirAuthorization")
    assert gateway.allowed_base(parse_hook_request(body)) is None
