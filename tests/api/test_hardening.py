"""Hardening: rate limits, JSON depth, security headers everywhere, card links, open and closed routes."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_server.api.body import json_depth
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.clients import EHR_A
from tests.support.clients import EHR_B
from tests.support.clients import as_client
from tests.support.clients import clients_document
from tests.support.clients import write_clients_file
from tests.support.requests import golden_request

SERVICE = "/cds-services/risk-demo"
ADMIN_TOKEN = "a" * 40


def test_a_client_over_its_rate_gets_429_with_retry_after_and_others_are_not_affected(
    make_app: AppFactory,
) -> None:
    client = make_app(rate_limit_per_s=1.0, rate_limit_burst=3).test_client()
    answers = [client.post(SERVICE, json=golden_request("patient-view")).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    limited = client.post(SERVICE, json=golden_request("patient-view"))
    assert_operation_outcome(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # another client, and another tenant of the same client, have buckets of their own
    other = client.post(SERVICE, json=golden_request("patient-view"), headers=as_client(EHR_B))
    assert other.status_code == 200
    tenant = client.post(SERVICE, json=golden_request("patient-view"), headers=as_client(EHR_A, tenant="x"))
    assert tenant.status_code == 200


def test_a_client_may_have_its_own_rate(make_app: AppFactory, tmp_path: Path) -> None:
    document = clients_document(**{EHR_A: {"rate_limit_per_s": 1.0, "rate_limit_burst": 1}})
    app = make_app(clients_file=str(write_clients_file(tmp_path / "c.yaml", document)))
    client = app.test_client()
    assert client.get("/cds-services").status_code == 200
    assert client.get("/cds-services").status_code == 429
    assert client.get("/cds-services", headers=as_client(EHR_B)).status_code == 200


@pytest.mark.parametrize(
    ("raw", "depth"),
    [
        (b"{}", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "[[[[{{{{"}', 1),
        (b'{"a": "\\"[[[[", "b": ["\\\\"]}', 2),
        (b'["]]]]]", [[["\\\\\\"]"]]]]', 4),
        (b"[" * 100 + b"]" * 100, 100),
        (b'"just a string"', 0),
    ],
)
def test_json_depth_counts_brackets_outside_strings_only(raw: bytes, depth: int) -> None:
    assert json_depth(raw) == depth


def test_bodies_nested_deeper_than_the_limit_are_400(make_app: AppFactory) -> None:
    golden = golden_request("patient-view")
    limit = json_depth(orjson.dumps(golden))
    client = make_app(json_max_depth=limit).test_client()
    body = golden_request("patient-view")
    body["context"]["extension"] = {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {}}}}}}}}}}
    assert json_depth(orjson.dumps(body)) > limit
    response = client.post(SERVICE, json=body)
    assert_operation_outcome(response, 400, "invalid-json")
    assert "nested too deeply" in response.get_data(as_text=True)
    assert client.post(SERVICE, json=golden_request("patient-view")).status_code == 200


def test_the_default_depth_limit_passes_real_requests_and_stops_64_plus(client: FlaskClient) -> None:
    deep = golden_request("patient-view")
    node: dict[str, object] = {}
    deep["context"]["extension"] = node
    for _ in range(70):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    assert client.post(SERVICE, json=deep).status_code == 400


ROUTES = [
    ("GET", "/cds-services"),
    ("POST", SERVICE),
    ("POST", SERVICE + "/feedback"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/models"),
    ("GET", "/openapi.json"),
    ("GET", "/audit"),
    ("GET", "/admin/clients"),
    ("POST", "/admin/models/reload"),
    ("GET", "/no-such-page"),
    ("PUT", SERVICE),
    ("OPTIONS", SERVICE),
]


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_security_headers_on_every_answer(app: Flask, method: str, path: str, signed: bool) -> None:
    client = app.test_client(sign=signed)
    response = client.open(
        path, method=method, json=golden_request("patient-view") if method == "POST" else None
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]
    assert response.status_code < 500


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/models"),
        ("GET", "/openapi.json"),
        ("OPTIONS", SERVICE),
    ],
)
def test_open_routes_need_no_token(app: Flask, method: str, path: str) -> None:
    assert app.test_client(sign=False).open(path, method=method).status_code == 200


def test_preflights_pass_without_credentials(make_app: AppFactory) -> None:
    client = make_app(cors_origins=["https://sandbox.cds-hooks.org"]).test_client(sign=False)
    response = client.options(
        SERVICE,
        headers={"Origin": "https://sandbox.cds-hooks.org", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_discovery_may_be_opened_but_a_token_sent_is_still_checked(make_app: AppFactory) -> None:
    closed = make_app().test_client(sign=False)
    assert closed.get("/cds-services").status_code == 401
    opened = make_app(discovery_requires_auth=False).test_client(sign=False)
    assert opened.get("/cds-services").status_code == 200
    assert opened.get("/cds-services", headers={"Authorization": "Bearer x.y.z"}).status_code == 401


def test_card_links_to_hosts_the_client_did_not_allow_are_dropped(
    make_app: AppFactory, tmp_path: Path
) -> None:
    document = clients_document(**{EHR_B: {"card_link_hosts": []}})
    client = make_app(clients_file=str(write_clients_file(tmp_path / "c.yaml", document))).test_client()
    allowed = client.post(
        "/cds-services/showcase", json=golden_request("patient-view"), headers=as_client(EHR_A)
    )
    dropped = client.post(
        "/cds-services/showcase", json=golden_request("patient-view"), headers=as_client(EHR_B)
    )
    assert [link["url"] for link in allowed.json["cards"][0]["links"]] == ["https://example.org/models/x"]
    assert "links" not in dropped.json["cards"][0]


def test_card_links_to_this_server_are_always_kept(make_app: AppFactory) -> None:
    app = make_app(service_modules=[], reference_time="2020-06-01T00:00:00+00:00")
    state = get_state(app)
    client_b = state.auth.registry.find(EHR_B)
    assert client_b is not None
    assert "127.0.0.1" in state.link_hosts(client_b)


def test_admin_endpoints_take_the_admin_token_not_a_client_jwt(make_app: AppFactory) -> None:
    app = make_app(admin_token=ADMIN_TOKEN)
    ehr = app.test_client()  # signs with a valid client JWT
    for method, path in (
        ("GET", "/admin/clients"),
        ("POST", "/admin/models/reload"),
        ("GET", "/admin/security-events"),
    ):
        assert ehr.open(path, method=method).status_code == 401
    admin = app.test_client(sign=False)
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    listing = admin.get("/admin/clients", headers=headers).json["clients"]
    assert {c["issuer"] for c in listing} >= {EHR_A, EHR_B, "urn:cds-server:dev-client"}
    assert all("jwks" not in c and "keys" in c for c in listing)
    reload = admin.post("/admin/models/reload", headers=headers)
    assert reload.status_code == 200
    assert reload.json["ok"] is True
    events = admin.get("/admin/security-events", headers=headers).json["events"]
    assert [e["reason"] for e in events][:1] == ["admin-token-wrong"]
    assert {e["kind"] for e in events} == {"admin"}


def test_admin_endpoints_do_not_exist_without_the_admin_token(app: Flask) -> None:
    client = app.test_client(sign=False)
    assert client.post("/admin/models/reload").status_code == 404


def test_the_dev_token_endpoint_signs_only_for_this_server_and_only_for_loopback(
    make_app: AppFactory,
) -> None:
    app = make_app()
    client = app.test_client(sign=False)
    url = "http://127.0.0.1:8000/cds-services"
    token = client.get("/demo/token", query_string={"url": url}).json["token"]
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get("/demo/token", query_string={"url": "https://evil.example/x"}).status_code == 404
    remote = client.get("/demo/token", query_string={"url": url}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert remote.status_code == 404
    assert (
        make_app(dev_client=False).test_client().get("/demo/token", query_string={"url": url}).status_code
        == 404
    )


def test_authentication_costs_little(app: Flask) -> None:
    """Verification reuses imported keys: no per-request key parsing (budget: 0.1 ms of the 3 ms hook)."""
    from cds_server.auth.verify import JwtPolicy
    from cds_server.auth.verify import verify_client_jwt
    from tests.support.clients import token_for

    state = get_state(app)
    url = "http://127.0.0.1:8000/cds-services"
    tokens = [token_for(url, EHR_A) for _ in range(200)]
    started = time.perf_counter()
    for token in tokens:
        verify_client_jwt(
            token,
            find_client=state.auth.registry.find,
            find_key=state.auth.keys.find_key,
            audience=url,
            now=time.time(),
            policy=JwtPolicy(),
        )
    per_token_ms = (time.perf_counter() - started) * 1000 / len(tokens)
    assert per_token_ms < 2.0  # generous for a loaded CI machine; bench/bench_auth.py measures it
