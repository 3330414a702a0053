"""FHIR access per client: its own fhirServer allow-list, SSRF refusals, and the access token's path.

Two recording FHIR stubs on loopback stand for two EHRs' FHIR servers. A client registered with its
own ``fhir_servers`` may name only those; a client without (EHR_A) falls back to ``CDS_FHIR_SERVERS``.
The ``fhirAuthorization`` token reaches only the server the verified client may use; 401/403 from it
mean "data unavailable"; refused URLs cause no connection at all.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support import clients
from tests.support.clients import EHR_A
from tests.support.clients import as_client
from tests.support.clients import clients_document
from tests.support.clients import signing_key
from tests.support.clients import write_clients_file
from tests.support.network import record_connections
from tests.support.requests import authorization
from tests.support.requests import patient_view

pytestmark = pytest.mark.integration

OWN_LIST = "https://own-list-ehr.example.org"
SERVICE = "/cds-services/bp-required"
TOKEN = "tok-CANARY-fhir-access-1"


class FhirStub:
    """Answers GETs with ``status`` (a Patient or an empty searchset) and records the Authorization header."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.authorizations: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.authorizations.append(self.headers.get("Authorization"))
                body = b'{"resourceType":"Bundle","type":"searchset","entry":[]}'
                if "/Patient/" in self.path:
                    body = b'{"resourceType":"Patient","id":"p1"}'
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}/fhir"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stubs() -> Iterator[tuple[FhirStub, FhirStub]]:
    own, shared = FhirStub(), FhirStub()
    try:
        yield own, shared
    finally:
        own.close()
        shared.close()


def app_with(
    make_app: AppFactory, tmp_path: Path, own_servers: list[str], global_servers: list[str]
) -> Flask:
    document = clients_document()
    key = signing_key(EHR_A)
    document["clients"].append(
        {"issuer": OWN_LIST, "jwks": key.public_jwks(), "algorithms": ["ES384"], "fhir_servers": own_servers}
    )
    return make_app(
        clients_file=str(write_clients_file(tmp_path / "clients.yaml", document)),
        fhir_servers=global_servers,
        fhir_allow_http=True,
        fhir_allow_private=True,
    )


def call_as(client: FlaskClient, issuer: str, fhir_server: str) -> Any:
    body = patient_view("p1", prefetch={}, fhirServer=fhir_server, fhirAuthorization=authorization(TOKEN))
    return client.post(SERVICE, json=body, headers=as_client(issuer))


@pytest.fixture(autouse=True)
def _own_list_signs_with_key_a(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client with its own list is registered with EHR_A's key; the signing clients use it for both."""
    real = clients.signing_key

    def key(issuer: str) -> Any:
        return real(EHR_A if issuer == OWN_LIST else issuer)

    monkeypatch.setattr(clients, "signing_key", key)


def test_a_client_with_its_own_list_reaches_only_those_servers(
    make_app: AppFactory, tmp_path: Path, stubs: tuple[FhirStub, FhirStub]
) -> None:
    own, shared = stubs
    client = app_with(make_app, tmp_path, [own.base], [shared.base]).test_client()

    assert call_as(client, OWN_LIST, own.base).status_code == 200
    refused = call_as(client, OWN_LIST, shared.base)  # allowed server-wide, not for this client
    assert refused.status_code == 412
    assert "fhir-server-not-allowed" in refused.get_data(as_text=True)
    # a client without its own list uses CDS_FHIR_SERVERS, and not another client's servers
    assert call_as(client, EHR_A, shared.base).status_code == 200
    assert call_as(client, EHR_A, own.base).status_code == 412

    assert own.authorizations == [f"Bearer {TOKEN}"] * 2  # one GET per prefetch key
    assert shared.authorizations == [f"Bearer {TOKEN}"] * 2


@pytest.mark.parametrize("status", [401, 403])
def test_unauthorized_or_forbidden_from_the_fhir_server_is_data_unavailable(
    make_app: AppFactory, tmp_path: Path, status: int
) -> None:
    stub = FhirStub(status)
    try:
        client = app_with(make_app, tmp_path, [stub.base], []).test_client()
        response = call_as(client, OWN_LIST, stub.base)
    finally:
        stub.close()
    assert response.status_code == 412
    assert {401: "unauthorized", 403: "forbidden"}[status] in response.get_data(as_text=True)
    assert len(stub.authorizations) == 2  # one GET per prefetch key: no retry with the same token
    assert TOKEN not in response.get_data(as_text=True)


HOSTILE = [
    "https://169.254.169.254/latest",
    "https://127.0.0.1:5432",
    "https://[::1]/",
    "https://10.0.0.1/",
    "https://own-list-ehr.example.org@evil.test/fhir",
    "http://own-list-ehr.example.org/fhir",
    "https://evil.test/fhir",
    "https://own-list-ehr.example.org/fhir/../../admin",
    "ftp://own-list-ehr.example.org/fhir",
]


@pytest.mark.parametrize("fhir_server", HOSTILE)
def test_hostile_fhir_servers_cause_no_connection(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fhir_server: str
) -> None:
    document = clients_document()
    document["clients"].append(
        {
            "issuer": OWN_LIST,
            "jwks": signing_key(EHR_A).public_jwks(),
            "algorithms": ["ES384"],
            "fhir_servers": ["https://own-list-ehr.example.org/fhir", "https://127.0.0.1:9/fhir"],
        }
    )
    client = make_app(clients_file=str(write_clients_file(tmp_path / "c.yaml", document))).test_client()
    with record_connections(monkeypatch) as attempts:
        response = call_as(client, OWN_LIST, fhir_server)
    assert response.status_code in (400, 412)
    assert attempts == []


def test_an_allowed_name_that_is_a_private_address_is_still_refused(
    make_app: AppFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = clients_document()
    document["clients"].append(
        {
            "issuer": OWN_LIST,
            "jwks": signing_key(EHR_A).public_jwks(),
            "algorithms": ["ES384"],
            "fhir_servers": ["https://127.0.0.1:9/fhir"],
        }
    )
    client = make_app(clients_file=str(write_clients_file(tmp_path / "c.yaml", document))).test_client()
    with record_connections(monkeypatch) as attempts:
        response = call_as(client, OWN_LIST, "https://127.0.0.1:9/fhir")
    assert response.status_code == 412
    assert "private-address-not-allowed" in response.get_data(as_text=True)
    assert attempts == []
