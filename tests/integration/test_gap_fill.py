"""Prefetch gap-filling against a real FHIR server (sekmet-fhir loaded with Synthea patients).

Read, search with paging, tokens, 401/404, slow, silent and refusing servers, and SSRF attempts that
must not open a single connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.fault_proxy import FaultProxy
from tests.support.fhir_server import FhirTestServer
from tests.support.network import record_connections
from tests.support.requests import authorization
from tests.support.requests import patient_view
from tests.support.synthea import patient_id
from tests.support.synthea import resources

pytestmark = pytest.mark.integration

DIRK = "Dirk_Kuhlman"


def bp_panels(name: str) -> list[dict[str, Any]]:
    panels = [
        r for r in resources(name, "Observation") if any(c["code"] == "55284-4" for c in r["code"]["coding"])
    ]
    return sorted(panels, key=lambda r: r["effectiveDateTime"], reverse=True)


def systolic(observation: dict[str, Any]) -> float:
    (component,) = [c for c in observation["component"] if c["code"]["coding"][0]["code"] == "8480-6"]
    return float(component["valueQuantity"]["value"])


def client_for(make_app: AppFactory, *bases: str, **settings: Any) -> FlaskClient:
    config: dict[str, Any] = {
        "fhir_servers": list(bases),
        "fhir_allow_http": True,
        "fhir_allow_private": True,
    }
    config.update(settings)
    return make_app(**config).test_client()


def call(client: FlaskClient, service: str, name: str, base: str, token: str | None, **fields: Any):  # type: ignore[no-untyped-def]
    body = patient_view(patient_id(name), fhirServer=base, **fields)
    if token is not None:
        body["fhirAuthorization"] = authorization(token)
    return client.post(f"/cds-services/{service}", json=body)


def test_omitted_prefetch_is_completed_from_the_fhir_server(
    make_app: AppFactory, fhir_server: FhirTestServer
) -> None:
    client = client_for(make_app, fhir_server.base_url)
    response = call(client, "patient-summary", DIRK, fhir_server.base_url, fhir_server.tokens[0])
    assert response.status_code == 200, response.json
    (card,) = response.json["cards"]
    expected = bp_panels(DIRK)
    conditions = resources(DIRK, "Condition")
    assert (
        card["summary"] == f"{len(expected)} blood pressure panels and {len(conditions)} conditions on record"
    )
    assert card["extension"]["tests.patient-id"] == patient_id(DIRK)
    assert card["extension"]["tests.systolic"] == [systolic(obs) for obs in expected]
    assert "tests.unavailable" not in card["extension"]


def test_the_same_call_with_the_fhir_server_down_is_412(
    make_app: AppFactory, fhir_server: FhirTestServer, fault_proxy: FaultProxy
) -> None:
    base = f"http://{fault_proxy.url_host}/fhir"
    client = client_for(make_app, base)
    fault_proxy.set("pass")
    assert call(client, "bp-required", DIRK, base, fhir_server.tokens[0]).status_code == 200
    fault_proxy.set("reset")
    started = time.monotonic()
    response = call(client, "bp-required", DIRK, base, fhir_server.tokens[0])
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert time.monotonic() - started < 1.0
    texts = " ".join(issue["details"]["text"] for issue in response.json["issue"])
    assert "connection-failed" in texts


def test_search_pages_are_followed_up_to_the_cap(make_app: AppFactory, fhir_server: FhirTestServer) -> None:
    client = client_for(make_app, fhir_server.base_url, fhir_max_pages=3)
    response = call(client, "bp-required", DIRK, fhir_server.base_url, fhir_server.tokens[0])
    assert response.status_code == 200
    # two per page, three pages
    assert response.json["cards"][0]["extension"]["tests.systolic"] == [
        systolic(o) for o in bp_panels(DIRK)[:6]
    ]


def test_a_rejected_token_makes_required_data_unavailable(
    make_app: AppFactory, fhir_server: FhirTestServer
) -> None:
    client = client_for(make_app, fhir_server.base_url)
    response = call(client, "bp-required", DIRK, fhir_server.base_url, "wrong-token")
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "unauthorized" in response.json["issue"][1]["details"]["text"]


def test_a_rejected_token_leaves_optional_data_out(make_app: AppFactory, fhir_server: FhirTestServer) -> None:
    client = client_for(make_app, fhir_server.base_url)
    body = patient_view(
        patient_id(DIRK),
        fhirServer=fhir_server.base_url,
        fhirAuthorization=authorization("wrong-token"),
        prefetch={"patient": resources(DIRK, "Patient")[0]},
    )
    response = client.post("/cds-services/patient-summary", json=body)
    assert response.status_code == 200
    assert response.json["cards"][0]["extension"]["tests.unavailable"] == ["bloodPressure", "conditions"]
    assert "unauthorized" in response.json["cards"][0]["detail"]


def test_unknown_patient_is_412(make_app: AppFactory, fhir_server: FhirTestServer) -> None:
    client = client_for(make_app, fhir_server.base_url)
    body = patient_view(
        "no-such-patient",
        fhirServer=fhir_server.base_url,
        fhirAuthorization=authorization(fhir_server.tokens[0]),
    )
    response = client.post("/cds-services/patient-summary", json=body)
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "not-found" in response.json["issue"][1]["details"]["text"]


@pytest.mark.parametrize("mode", ["latency", "blackhole"])
def test_slow_or_silent_server_answers_412_within_the_deadline(
    make_app: AppFactory, fhir_server: FhirTestServer, fault_proxy: FaultProxy, mode: str
) -> None:
    base = f"http://{fault_proxy.url_host}/fhir"
    client = client_for(make_app, base, request_deadline_s=1.5, fhir_read_timeout_s=0.5)
    fault_proxy.set(mode, latency_s=3.0)  # type: ignore[arg-type]
    started = time.monotonic()
    response = call(client, "bp-required", DIRK, base, fhir_server.tokens[0])
    elapsed = time.monotonic() - started
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "timeout" in response.json["issue"][1]["details"]["text"]
    assert elapsed < 1.5


def test_slow_server_leaves_optional_data_out_within_the_deadline(
    make_app: AppFactory, fhir_server: FhirTestServer, fault_proxy: FaultProxy
) -> None:
    base = f"http://{fault_proxy.url_host}/fhir"
    client = client_for(make_app, base, request_deadline_s=1.5, fhir_read_timeout_s=0.5)
    fault_proxy.set("latency", latency_s=3.0)
    body = patient_view(
        patient_id(DIRK),
        fhirServer=base,
        fhirAuthorization=authorization(fhir_server.tokens[0]),
        prefetch={"patient": resources(DIRK, "Patient")[0]},
    )
    response = client.post("/cds-services/patient-summary", json=body)
    assert response.status_code == 200
    assert "timeout" in response.json["cards"][0]["detail"]


def test_open_server_is_read_without_a_token_only_when_allowed(
    make_app: AppFactory, open_fhir_server: FhirTestServer
) -> None:
    base = open_fhir_server.base_url
    allowed = client_for(make_app, base, fhir_open_servers=[base])
    response = call(allowed, "bp-required", DIRK, base, token=None)
    assert response.status_code == 200
    assert len(response.json["cards"][0]["extension"]["tests.systolic"]) == min(10, len(bp_panels(DIRK)))
    not_open = client_for(make_app, base)
    response = call(not_open, "bp-required", DIRK, base, token=None)
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "no-usable-fhir-authorization" in response.json["issue"][1]["details"]["text"]


@pytest.mark.parametrize(
    "fhir_server_url",
    [
        "https://169.254.169.254/latest",
        "https://127.0.0.1:5432",
        "https://[::1]/",
        "https://10.0.0.1/",
        "https://ehr.example.org@127.0.0.1/fhir",
        "http://127.0.0.1:6379/",
        "https://not-registered.example.org/fhir",
    ],
)
def test_ssrf_attempts_make_no_connection(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, fhir_server_url: str
) -> None:
    client = client_for(
        make_app, "https://ehr.example.org/fhir", fhir_allow_http=False, fhir_allow_private=False
    )
    with record_connections(monkeypatch) as attempts:
        response = call(client, "bp-required", DIRK, fhir_server_url, "tok-CANARY-ssrf")
    assert attempts == []
    assert_operation_outcome(response, 412, "prefetch-unavailable")


def test_allowed_name_resolving_to_loopback_makes_no_connection(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, fhir_server: FhirTestServer
) -> None:
    base = f"http://localhost:{fhir_server.port}/fhir"
    client = client_for(make_app, base, fhir_allow_private=False)
    with record_connections(monkeypatch) as attempts:
        response = call(client, "bp-required", DIRK, base, fhir_server.tokens[0])
    assert attempts == []
    assert "private-address-not-allowed" in response.json["issue"][1]["details"]["text"]


def test_off_origin_next_link_is_not_followed(
    make_app: AppFactory, fhir_server: FhirTestServer, fault_proxy: FaultProxy
) -> None:
    client = client_for(make_app, fhir_server.base_url)
    first_page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": f"http://{fault_proxy.url_host}/fhir/Observation?page=2"}],
    }
    body = patient_view(
        patient_id(DIRK),
        fhirServer=fhir_server.base_url,
        fhirAuthorization=authorization(fhir_server.tokens[0]),
        prefetch={"patient": resources(DIRK, "Patient")[0], "bloodPressure": first_page},
    )
    response = client.post("/cds-services/bp-required", json=body)
    assert response.status_code == 200
    assert fault_proxy.connections == 0


class _Redirector(BaseHTTPRequestHandler):
    target = ""

    def do_GET(self) -> None:
        self.send_response(302)
        self.send_header("Location", self.target + self.path)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def redirector(fhir_server: FhirTestServer) -> Iterator[str]:
    _Redirector.target = f"http://127.0.0.1:{fhir_server.port}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/fhir"
    server.shutdown()
    server.server_close()


def test_redirects_are_refused(make_app: AppFactory, fhir_server: FhirTestServer, redirector: str) -> None:
    client = client_for(make_app, redirector)
    response = call(client, "bp-required", DIRK, redirector, fhir_server.tokens[0])
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "redirect-refused" in response.json["issue"][1]["details"]["text"]


def test_oversized_fhir_responses_are_refused(make_app: AppFactory, fhir_server: FhirTestServer) -> None:
    client = client_for(make_app, fhir_server.base_url, fhir_max_response_bytes=512)
    response = call(client, "bp-required", DIRK, fhir_server.base_url, fhir_server.tokens[0])
    assert_operation_outcome(response, 412, "prefetch-unavailable")
    assert "response-too-large" in " ".join(issue["details"]["text"] for issue in response.json["issue"])
