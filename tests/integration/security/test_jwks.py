"""Keys from a client's ``jwks_url``: rotation, the refresh rate limit, stale keys, fetch limits.

Against a real local HTTPS server with its own CA; the clock of the cache is a test clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from joserfc.jwk import ECKey

from cds_server.auth.clients import ClientSpec
from cds_server.auth.clients import TrustedClient
from cds_server.auth.clients import build_client
from cds_server.auth.devclient import SigningKey
from cds_server.auth.jwks import JwksCache
from cds_server.auth.jwks import JwksFetcher
from cds_server.auth.jwks import JwksFetchError
from tests.conftest import AppFactory
from tests.support.clients import clients_document
from tests.support.clients import write_clients_file
from tests.support.jwks_server import JwksServer
from tests.support.jwt_forge import claims
from tests.support.jwt_forge import signed

pytestmark = pytest.mark.integration

ISSUER = "https://rotating-ehr.example.org"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def new_key() -> SigningKey:
    key = ECKey.generate_key("P-384", private=True)
    return SigningKey(key, kid=f"k-{uuid.uuid4().hex[:8]}", alg="ES384")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[JwksServer]:
    server = JwksServer(tmp_path)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def client(server: JwksServer) -> TrustedClient:
    return build_client(ClientSpec(issuer=ISSUER, jwks_url=server.url), source="file")


def cache_for(server: JwksServer, clock: Clock) -> JwksCache:
    return JwksCache(JwksFetcher(verify=server.client_context()), clock=clock)


def test_rotation_is_picked_up_and_unknown_kids_refresh_at_most_every_five_minutes(
    server: JwksServer, client: TrustedClient
) -> None:
    first, second = new_key(), new_key()
    server.document = first.public_jwks()
    clock = Clock()
    cache = cache_for(server, clock)
    assert cache.find_key(client, first.kid) is not None
    assert server.requests == 1

    server.document = second.public_jwks()  # the EHR rotated its key
    clock.now += 10
    assert cache.find_key(client, second.kid) is None  # refreshed 10 s ago: not again yet
    for _ in range(100):  # an unknown-kid flood costs the EHR nothing
        assert cache.find_key(client, uuid.uuid4().hex) is None
    assert server.requests == 1
    clock.now += 300
    assert cache.find_key(client, second.kid) is not None
    assert server.requests == 2
    assert cache.find_key(client, first.kid) is None  # the retired key is gone
    cache.close()


def test_a_failed_refresh_keeps_serving_the_cached_keys(server: JwksServer, client: TrustedClient) -> None:
    key = new_key()
    server.document = key.public_jwks()
    clock = Clock()
    cache = cache_for(server, clock)
    assert cache.find_key(client, key.kid) is not None
    server.mode = "error"
    clock.now += 3600 + 1  # stale
    assert cache.find_key(client, key.kid) is not None
    assert server.requests == 2
    cache.close()


@pytest.mark.parametrize(
    ("mode", "reason"), [("redirect", "http-302"), ("huge", "too-large"), ("error", "http-500")]
)
def test_fetch_limits(server: JwksServer, mode: str, reason: str) -> None:
    server.mode = mode
    fetcher = JwksFetcher(verify=server.client_context())
    with pytest.raises(JwksFetchError) as failed:
        fetcher.fetch(server.url)
    assert failed.value.reason == reason
    fetcher.close()


def test_only_https_and_only_trusted_certificates(server: JwksServer) -> None:
    with pytest.raises(JwksFetchError, match="https-required"):
        JwksFetcher().fetch(server.url.replace("https://", "http://"))
    with pytest.raises(JwksFetchError, match="connection-failed"):
        JwksFetcher().fetch(server.url)  # the system trust store does not know the test CA


def test_a_client_with_a_jwks_url_is_verified_through_the_app(
    make_app: AppFactory, server: JwksServer, tmp_path: Path
) -> None:
    key = new_key()
    server.document = key.public_jwks()
    document = clients_document()
    document["clients"].append({"issuer": ISSUER, "jwks_url": server.url})
    app = make_app(
        clients_file=str(write_clients_file(tmp_path / "clients.yaml", document)),
        jwks_ca_file=str(server.cert),
    )
    url = "http://127.0.0.1:8000/cds-services"
    client = app.test_client(sign=False)
    ok = signed({"typ": "JWT", "kid": key.kid, "jku": server.url}, claims(ISSUER, url), key)
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {ok}"}).status_code == 200
    wrong_jku = signed({"typ": "JWT", "kid": key.kid, "jku": server.url + "?x"}, claims(ISSUER, url), key)
    assert client.get("/cds-services", headers={"Authorization": f"Bearer {wrong_jku}"}).status_code == 401
    assert server.requests == 1
