"""The JWT attack suite (reliability-security §2.2): every attack 401 with one byte-identical body.

Tokens are minted here with the registered test keys (ES384 for EHR_A, RS384 for EHR_B), fresh keys
an attacker would hold, or by hand (``alg: none``, HMAC over the PEM). Valid tokens of both kinds,
and sandbox- and Inferno-style tokens, are accepted; nothing ever connects anywhere while verifying.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from joserfc.jwk import import_key

from cds_server.auth.devclient import SigningKey
from cds_server.auth.sandbox import SANDBOX_ISSUER
from cds_server.auth.sandbox import SANDBOX_JKU
from tests.conftest import AppFactory
from tests.support.clients import EHR_A
from tests.support.clients import EHR_B
from tests.support.clients import clients_document
from tests.support.clients import signing_key
from tests.support.clients import write_clients_file
from tests.support.jwt_forge import claims
from tests.support.jwt_forge import hmac_signed
from tests.support.jwt_forge import signed
from tests.support.jwt_forge import unsigned
from tests.support.network import record_connections
from tests.support.paths import DATA_DIR
from tests.support.requests import golden_request

BASE = "http://127.0.0.1:8000"
SERVICE = "/cds-services/risk-demo"
URL = BASE + SERVICE
INFERNO_ISSUER = "https://inferno.example.org/custom/crd_server"
INFERNO_JKU = f"{INFERNO_ISSUER}/jwks.json"

Mint = Callable[[], str]


def sandbox_key() -> SigningKey:
    document = json.loads((DATA_DIR / "auth" / "cds-hooks-sandbox-keypair.json").read_text())
    raw = document["keys"][0]
    return SigningKey(import_key(raw), kid=raw["kid"], alg="ES384")


INFERNO_KEY = SigningKey(ECKey.generate_key("P-384", private=True), kid="inferno-es384", alg="ES384")


@pytest.fixture
def app(make_app: AppFactory, tmp_path: Path) -> Flask:
    inferno = {
        "issuer": INFERNO_ISSUER,
        "jwks": INFERNO_KEY.public_jwks(),
        "jku": INFERNO_JKU,
        "algorithms": ["ES384", "RS384"],
    }
    document = clients_document()
    document["clients"].append(inferno)
    return make_app(
        clients_file=str(write_clients_file(tmp_path / "clients.yaml", document)),
        trust_cds_hooks_sandbox=True,
    )


@pytest.fixture
def raw(app: Flask) -> FlaskClient:
    return app.test_client(sign=False)


def header(signing: SigningKey, **extra: Any) -> dict[str, Any]:
    return {"typ": "JWT", "kid": signing.kid, **extra}


def good(signing: SigningKey, issuer: str, **claim_changes: Any) -> str:
    tenant = {"tenant": "north"} if issuer == EHR_B else {}
    return signed(header(signing), claims(issuer, URL, **{**tenant, **claim_changes}), signing)


A, B = signing_key(EHR_A), signing_key(EHR_B)
ATTACKER_EC = SigningKey(ECKey.generate_key("P-384", private=True), kid=A.kid, alg="ES384")
ATTACKER_RSA = SigningKey(RSAKey.generate_key(2048, private=True), kid=B.kid, alg="RS384")

ATTACKS: dict[str, Mint] = {
    "alg none": lambda: unsigned({"alg": "none", "typ": "JWT", "kid": A.kid}, claims(EHR_A, URL)),
    "alg nOnE": lambda: unsigned({"alg": "nOnE", "typ": "JWT", "kid": A.kid}, claims(EHR_A, URL)),
    "HS256 keyed with the RSA public key PEM": lambda: hmac_signed(
        {"alg": "HS256", "typ": "JWT", "kid": B.kid},
        claims(EHR_B, URL, tenant="north"),
        B.key.as_pem(private=False),
    ),
    "RS256 with the registered key (alg not allowed)": lambda: signed(
        header(B), claims(EHR_B, URL, tenant="north"), B, alg="RS256"
    ),
    "ES384 key used by an RS384-only client": lambda: signed(
        header(ATTACKER_EC), claims(EHR_B, URL, tenant="north"), ATTACKER_EC
    ),
    "wrong EC key, same kid": lambda: good(ATTACKER_EC, EHR_A),
    "wrong RSA key, same kid": lambda: good(ATTACKER_RSA, EHR_B),
    "embedded jwk header": lambda: signed(
        header(ATTACKER_EC, jwk=ATTACKER_EC.key.as_dict(private=False)), claims(EHR_A, URL), ATTACKER_EC
    ),
    "x5u header": lambda: signed(header(A, x5u="https://evil.example/cert.pem"), claims(EHR_A, URL), A),
    "jku injection (metadata endpoint)": lambda: signed(
        header(ATTACKER_EC, jku="http://169.254.169.254/latest/meta-data/jwks"),
        claims(EHR_A, URL),
        ATTACKER_EC,
    ),
    "jku injection with the right key": lambda: signed(
        header(A, jku="https://evil.example/jwks"), claims(EHR_A, URL), A
    ),
    "kid path traversal": lambda: signed(
        {"typ": "JWT", "kid": "../../../../dev/null"}, claims(EHR_A, URL), ATTACKER_EC
    ),
    "kid SQL injection": lambda: signed(
        {"typ": "JWT", "kid": "x' OR '1'='1"}, claims(EHR_A, URL), ATTACKER_EC
    ),
    "no kid": lambda: signed({"typ": "JWT"}, claims(EHR_A, URL), A),
    "typ is not JWT": lambda: signed(header(A, typ="at+jwt"), claims(EHR_A, URL), A),
    "wrong aud": lambda: good(A, EHR_A, aud=BASE + "/cds-services/other"),
    "discovery aud sent to a service": lambda: good(A, EHR_A, aud=BASE + "/cds-services"),
    "aud built from a Host header": lambda: good(A, EHR_A, aud="http://evil.example" + SERVICE),
    "array aud without ours": lambda: good(A, EHR_A, aud=[BASE + "/cds-services", "https://x.example"]),
    "expired beyond leeway": lambda: good(A, EHR_A, iat=int(time.time()) - 1000, exp=int(time.time()) - 700),
    "iat in the future": lambda: good(A, EHR_A, iat=int(time.time()) + 600, exp=int(time.time()) + 900),
    "nbf in the future": lambda: good(A, EHR_A, nbf=int(time.time()) + 600),
    "lifetime over the maximum": lambda: good(A, EHR_A, iat=int(time.time()), exp=int(time.time()) + 7200),
    "issued beyond the maximum age": lambda: good(
        A, EHR_A, iat=int(time.time()) - 7300, exp=int(time.time()) + 60
    ),
    "missing exp": lambda: good(A, EHR_A, exp=None),
    "missing iat": lambda: good(A, EHR_A, iat=None),
    "missing jti": lambda: good(A, EHR_A, jti=None),
    "missing iss": lambda: good(A, EHR_A, iss=None),
    "missing aud": lambda: good(A, EHR_A, aud=None),
    "exp not a number": lambda: good(A, EHR_A, exp="tomorrow"),
    "unknown issuer, self-signed": lambda: good(ATTACKER_EC, "https://evil.example/fhir"),
    "issuer of one client, key of another": lambda: signed(header(A), claims(EHR_B, URL, tenant="north"), A),
    "tenant not allowed": lambda: good(B, EHR_B, tenant="west"),
    "tenant missing for a client with tenants": lambda: good(B, EHR_B, tenant=None),
    "crit header": lambda: signed(header(A, crit=["exp"], exp=1), claims(EHR_A, URL), A),
    "EHR access token sent as the hook JWT": lambda: signed(
        header(A, typ="at+jwt"), claims(EHR_A, "https://ehr-a.example.org/fhir", scope="user/*.read"), A
    ),
    "sandbox issuer, attacker key": lambda: signed(
        {"typ": "JWT", "kid": "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f", "jku": SANDBOX_JKU},
        claims(SANDBOX_ISSUER, URL),
        ATTACKER_EC,
    ),
    "oversized token (100 KB)": lambda: good(A, EHR_A, padding="x" * 100_000),
}

GARBAGE = {
    "no header": None,
    "Basic scheme": "Basic dXNlcjpwYXNz",
    "bearer without token": "Bearer",
    "empty token": "Bearer ",
    "dot": "Bearer .",
    "two dots": "Bearer ..",
    "a.b.c": "Bearer a.b.c",
    "empty JSON segments": "Bearer e30.e30.",
    "not base64": "Bearer !!!.???.***",
    "non-ASCII": "Bearer \u00e9\u00e9.\u00e9.\u00e9",
    "five segments (JWE)": "Bearer a.b.c.d.e",
    "JSON array header": "Bearer WzFd.e30.c2ln",
}


def post(client: FlaskClient, authorization: str | None) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return client.post(SERVICE, json=golden_request("patient-view"), headers=headers)


def test_every_attack_is_401_with_one_byte_identical_body_and_no_connection(
    raw: FlaskClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: dict[str, tuple[int, bytes, str | None]] = {}
    tokens: list[str] = []
    with record_connections(monkeypatch) as attempts:
        for name, mint in ATTACKS.items():
            tokens.append(mint())
            response = post(raw, f"Bearer {tokens[-1]}")
            bodies[name] = (
                response.status_code,
                response.get_data(),
                response.headers.get("WWW-Authenticate"),
            )
        for name, authorization in GARBAGE.items():
            response = post(raw, authorization)
            bodies[name] = (
                response.status_code,
                response.get_data(),
                response.headers.get("WWW-Authenticate"),
            )
    assert attempts == []  # no JWKS, jku or anything else was fetched
    statuses = {name: status for name, (status, _, _) in bodies.items()}
    assert statuses == dict.fromkeys(bodies, 401)
    assert len({body for _, body, _ in bodies.values()}) == 1
    assert {challenge for _, _, challenge in bodies.values()} == {'Bearer realm="cds-services"'}
    assert len(ATTACKS) + len(GARBAGE) >= 50
    assert "refused: reason=" in caplog.text  # the reasons are logged...
    for token in tokens:  # ...the tokens, and their signatures, are not
        assert token not in caplog.text
        assert token.rsplit(".", 1)[-1] not in caplog.text or not token.rsplit(".", 1)[-1]


@pytest.mark.parametrize(
    "mint",
    [
        pytest.param(lambda: good(A, EHR_A), id="ES384"),
        pytest.param(lambda: good(B, EHR_B), id="RS384"),
        pytest.param(lambda: good(A, EHR_A, aud=[BASE + "/cds-services", URL]), id="array aud holding ours"),
        pytest.param(
            lambda: good(A, EHR_A, iat=int(time.time()) - 330, exp=int(time.time()) - 30),
            id="expired within leeway",
        ),
        pytest.param(
            lambda: good(A, EHR_A, sub="ehr-client-id", nbf=int(time.time()) - 300),
            id="epic-style sub and nbf",
        ),
        pytest.param(
            lambda: signed(
                {"typ": "JWT", "kid": sandbox_key().kid, "jku": SANDBOX_JKU},
                claims(SANDBOX_ISSUER, URL, now=time.time() + 0.5),
                sandbox_key(),
            ),
            id="sandbox: jku, iat half a second ahead",
        ),
        pytest.param(
            lambda: signed(
                {"typ": "JWT", "kid": INFERNO_KEY.kid, "jku": INFERNO_JKU},
                claims(INFERNO_ISSUER, URL, jti="a" * 64),
                INFERNO_KEY,
            ),
            id="inferno: jku, hex jti",
        ),
    ],
)
def test_valid_tokens_are_accepted(raw: FlaskClient, mint: Mint, monkeypatch: pytest.MonkeyPatch) -> None:
    with record_connections(monkeypatch) as attempts:
        response = post(raw, f"Bearer {mint()}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert attempts == []


def test_the_scheme_is_case_insensitive(raw: FlaskClient) -> None:
    assert post(raw, f"bearer {good(A, EHR_A)}").status_code == 200


def test_a_replayed_token_is_refused(raw: FlaskClient) -> None:
    token = good(A, EHR_A)
    assert post(raw, f"Bearer {token}").status_code == 200
    again = post(raw, f"Bearer {token}")
    assert again.status_code == 401
    assert again.get_data() == post(raw, None).get_data()


def test_feedback_and_discovery_have_their_own_audience(raw: FlaskClient) -> None:
    feedback = {
        "feedback": [{"card": "x", "outcome": "overridden", "outcomeTimestamp": "2026-01-01T00:00:00Z"}]
    }
    for aud, expected in ((URL + "/feedback", 200), (URL, 401)):
        token = signed(header(A), claims(EHR_A, aud), A)
        answer = raw.post(SERVICE + "/feedback", json=feedback, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == expected
    for aud, expected in ((BASE + "/cds-services", 200), (URL, 401)):
        token = signed(header(A), claims(EHR_A, aud), A)
        assert raw.get("/cds-services", headers={"Authorization": f"Bearer {token}"}).status_code == expected


def test_unauthenticated_calls_never_reach_the_service_or_the_audit_trail(
    raw: FlaskClient, app: Flask
) -> None:
    from cds_server.state import get_state

    assert post(raw, None).status_code == 401
    assert raw.post("/cds-services/no-such-service", json={}).status_code == 401  # no existence oracle
    with get_state(app).database.read() as session:
        from sqlalchemy import func
        from sqlalchemy import select

        from cds_server.persistence.models import AuditEvent
        from cds_server.persistence.models import SecurityEvent

        assert session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0
        reasons = session.execute(select(SecurityEvent.reason)).scalars().all()
    assert reasons == ["no-authorization", "no-authorization"]
