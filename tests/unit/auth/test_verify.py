"""The pure verifier: each attack of the suite fails at the step meant to stop it (its reason code)."""

from __future__ import annotations

import time

import pytest

from cds_server.auth.clients import TrustedClient
from cds_server.auth.clients import build_client
from cds_server.auth.clients import parse_spec
from cds_server.auth.sandbox import sandbox_spec
from cds_server.auth.verify import JwtPolicy
from cds_server.auth.verify import TokenRejected
from cds_server.auth.verify import bearer_token
from cds_server.auth.verify import verify_client_jwt
from tests.api.test_jwt_attacks import ATTACKS
from tests.api.test_jwt_attacks import URL
from tests.api.test_jwt_attacks import A
from tests.api.test_jwt_attacks import good
from tests.support.clients import EHR_A
from tests.support.clients import clients_document

EXPECTED = {
    "alg none": "malformed-token",
    "alg nOnE": "malformed-token",
    "HS256 keyed with the RSA public key PEM": "algorithm-not-allowed",
    "RS256 with the registered key (alg not allowed)": "algorithm-not-allowed",
    "ES384 key used by an RS384-only client": "algorithm-not-allowed",
    "wrong EC key, same kid": "bad-signature",
    "wrong RSA key, same kid": "bad-signature",
    "embedded jwk header": "key-in-header",
    "x5u header": "key-in-header",
    "jku injection (metadata endpoint)": "jku-not-registered",
    "jku injection with the right key": "jku-not-registered",
    "kid path traversal": "unknown-kid",
    "kid SQL injection": "unknown-kid",
    "no kid": "no-kid",
    "typ is not JWT": "typ-not-jwt",
    "wrong aud": "wrong-audience",
    "discovery aud sent to a service": "wrong-audience",
    "aud built from a Host header": "wrong-audience",
    "array aud without ours": "wrong-audience",
    "expired beyond leeway": "expired",
    "iat in the future": "issued-in-future",
    "nbf in the future": "not-yet-valid",
    "lifetime over the maximum": "lifetime-too-long",
    "issued beyond the maximum age": "lifetime-too-long",
    "missing exp": "missing-claim:exp",
    "missing iat": "missing-claim:iat",
    "missing jti": "missing-claim:jti",
    "missing iss": "no-issuer",
    "missing aud": "missing-claim:aud",
    "exp not a number": "invalid-claim:exp",
    "unknown issuer, self-signed": "unknown-issuer",
    "issuer of one client, key of another": "algorithm-not-allowed",
    "tenant not allowed": "tenant-not-allowed",
    "tenant missing for a client with tenants": "missing-claim:tenant",
    "crit header": "unknown-critical-header",
    "EHR access token sent as the hook JWT": "typ-not-jwt",
    "sandbox issuer, attacker key": "bad-signature",
    "oversized token (100 KB)": "token-too-large",
}


def registry() -> dict[str, TrustedClient]:
    clients = [
        build_client(parse_spec(doc, where="test"), source="file") for doc in clients_document()["clients"]
    ]
    clients.append(build_client(sandbox_spec(), source="sandbox"))
    return {client.issuer: client for client in clients}


def verify(token: str, *, now: float | None = None, policy: JwtPolicy | None = None) -> object:
    return verify_client_jwt(
        bearer_token(f"Bearer {token}"),
        find_client=registry().get,
        find_key=lambda client, kid: (client.keys or {}).get(kid),
        audience=URL,
        now=time.time() if now is None else now,
        policy=policy or JwtPolicy(),
    )


@pytest.mark.parametrize("name", list(ATTACKS))
def test_each_attack_is_stopped_by_its_check(name: str) -> None:
    with pytest.raises(TokenRejected) as rejected:
        verify(ATTACKS[name]())
    assert rejected.value.reason == EXPECTED[name]


def test_every_attack_has_an_expected_reason() -> None:
    assert set(EXPECTED) == set(ATTACKS)


def test_an_unknown_issuer_is_not_kept_as_an_issuer() -> None:
    with pytest.raises(TokenRejected) as rejected:
        verify(ATTACKS["unknown issuer, self-signed"]())
    assert (rejected.value.issuer, rejected.value.claimed_issuer) == (None, "https://evil.example/fhir")


def test_the_clock_and_leeway_are_inputs() -> None:
    token = good(A, EHR_A)
    later = time.time() + 300 + 59  # exp is iat + 300
    assert verify(token, now=later)
    with pytest.raises(TokenRejected, match="expired"):
        verify(token, now=later, policy=JwtPolicy(leeway_s=0))


def test_a_client_may_shorten_the_lifetime() -> None:
    client = build_client(
        parse_spec({**clients_document()["clients"][0], "max_lifetime_s": 60}, where="t"), source="file"
    )
    with pytest.raises(TokenRejected, match="lifetime-too-long"):
        verify_client_jwt(
            good(A, EHR_A),
            find_client={EHR_A: client}.get,
            find_key=lambda c, kid: (c.keys or {}).get(kid),
            audience=URL,
            now=time.time(),
            policy=JwtPolicy(),
        )


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (None, "no-authorization"),
        ("", "no-authorization"),
        ("Basic x", "not-bearer"),
        ("Bearer a.b", "malformed-token"),
    ],
)
def test_the_header_is_checked_first(authorization: str | None, reason: str) -> None:
    with pytest.raises(TokenRejected, match=reason):
        bearer_token(authorization)


def test_no_exception_carries_the_token() -> None:
    token = ATTACKS["wrong EC key, same kid"]()
    with pytest.raises(TokenRejected) as rejected:
        verify(token)
    assert token not in repr(rejected.value)
    assert token not in str(rejected.value.args)
