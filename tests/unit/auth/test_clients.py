"""Client registrations are checked once, when they are loaded, with messages that name the field."""

from __future__ import annotations

from typing import Any

import pytest

from cds_server.auth.clients import ClientConfigError
from cds_server.auth.clients import build_client
from cds_server.auth.clients import parse_spec
from cds_server.auth.ratelimit import Limit
from cds_server.auth.ratelimit import LocalRateLimiter
from tests.support.clients import EHR_A
from tests.support.clients import signing_key

JWKS = signing_key(EHR_A).public_jwks()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"issuer": "x"}, "exactly one of jwks"),
        ({"issuer": "x", "jwks": JWKS, "jwks_url": "https://x/j"}, "exactly one of jwks"),
        ({"issuer": "x", "jwks_url": "http://x/jwks"}, "https://"),
        ({"issuer": "x", "jwks": JWKS, "algorithms": ["HS256"]}, "algorithms"),
        ({"issuer": "x", "jwks": JWKS, "algorithms": ["none"]}, "algorithms"),
        ({"issuer": "x", "jwks": JWKS, "fhir_open_servers": ["https://a/fhir"]}, "fhir_open_servers"),
        ({"issuer": "x", "jwks": JWKS, "surprise": 1}, "surprise"),
    ],
)
def test_bad_registrations_are_refused(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        parse_spec(document, where="test")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"keys": [{**JWKS["keys"][0], "kid": None}]}, "no kid"),
        ({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "s"}]}, "symmetric"),
        ({"keys": [JWKS["keys"][0], JWKS["keys"][0]]}, "twice"),
        ({"keys": [{**signing_key(EHR_A).key.as_dict(private=True), "kid": "p"}]}, "private"),
        ({"keys": []}, "at least one key"),
    ],
)
def test_bad_keys_are_refused(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        build_client(parse_spec({"issuer": "x", "jwks": keys}, where="test"), source="file")


def test_defaults_are_es384_and_rs384() -> None:
    client = build_client(parse_spec({"issuer": "x", "jwks": JWKS}, where="t"), source="file")
    assert client.algorithms == {"ES384", "RS384"}
    assert client.fhir_policy is None  # the server-wide CDS_FHIR_SERVERS


def test_local_token_bucket() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(clock=lambda: now[0])
    limit = Limit(per_s=2.0, burst=2)
    assert [limiter.acquire("a", limit) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert limiter.acquire("b", limit) == 0.0
    now[0] += 0.5
    assert limiter.acquire("a", limit) == 0.0
