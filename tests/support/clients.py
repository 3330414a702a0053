"""Registered test EHR clients, and test HTTP clients that sign every call as one of them.

Two clients are trusted by every app the suite builds (``CDS_CLIENTS_FILE`` points at the file
:func:`write_clients_file` writes once per session):

* :data:`EHR_A`, ES384, no tenants (any ``tenant`` claim is recorded as sent);
* :data:`EHR_B`, RS384, tenants ``north`` and ``south`` (every token must name one).

Both use the server-wide ``CDS_FHIR_SERVERS`` and allow card links to ``example.org``.

:class:`SigningClient` (installed as every Flask app's test client class) adds an
``Authorization: Bearer`` JWT for the exact URL of each call, as an EHR does, unless the call sets
``Authorization`` itself or the client was made with ``app.test_client(sign=False)``.
:func:`as_client` picks the client (and tenant) for one call.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from flask import Flask
from flask.testing import FlaskClient
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey

from cds_server.auth.devclient import SigningKey
from cds_server.auth.devclient import mint_token
from cds_server.state import get_state

EHR_A = "https://ehr-a.example.org/fhir"
EHR_B = "https://ehr-b.example.org/fhir"
TENANTS_B = ("north", "south")

#: test-only headers read (and removed) by the signing clients; the server never sees them
SIGN_AS = "X-Test-Sign-As"
SIGN_TENANT = "X-Test-Sign-Tenant"


@functools.cache
def signing_key(issuer: str) -> SigningKey:
    """The test key of a registered test client, generated once per process."""
    if issuer == EHR_A:
        key: Any = ECKey.generate_key("P-384", private=True)
        return SigningKey(key, kid=f"a-{key.thumbprint()[:12]}", alg="ES384")
    if issuer == EHR_B:
        key = RSAKey.generate_key(2048, private=True)
        return SigningKey(key, kid=f"b-{key.thumbprint()[:12]}", alg="RS384")
    raise KeyError(issuer)


def clients_document(**overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The clients file as a document; ``overrides`` (by issuer) change a client's fields."""
    clients = [
        # the test services' cards link to example.org
        {
            "issuer": EHR_A,
            "jwks": signing_key(EHR_A).public_jwks(),
            "algorithms": ["ES384"],
            "card_link_hosts": ["example.org"],
        },
        {
            "issuer": EHR_B,
            "jwks": signing_key(EHR_B).public_jwks(),
            "algorithms": ["RS384"],
            "tenants": list(TENANTS_B),
            "card_link_hosts": ["example.org"],
        },
    ]
    for client in clients:
        client.update(overrides.get(client["issuer"], {}))
    return {"clients": clients}


def write_clients_file(path: Path, document: Mapping[str, Any] | None = None) -> Path:
    path.write_text(yaml.safe_dump(json.loads(json.dumps(document or clients_document()))))
    return path


def as_client(issuer: str = EHR_A, *, tenant: str | None = None) -> dict[str, str]:
    """Headers that make a signing client sign this call as ``issuer`` (and ``tenant``)."""
    headers = {SIGN_AS: issuer}
    if tenant:
        headers[SIGN_TENANT] = tenant
    return headers


def token_for(url: str, issuer: str = EHR_A, *, tenant: str | None = None, **mint: Any) -> str:
    if tenant is None and issuer == EHR_B:
        tenant = TENANTS_B[0]
    claims = {**mint.pop("claims", {}), **({"tenant": tenant} if tenant else {})}
    return mint_token(signing_key(issuer), issuer=issuer, audience=url, claims=claims, **mint)


def bearer(url: str, issuer: str = EHR_A, **mint: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(url, issuer, **mint)}"}


class SigningClient(FlaskClient):
    """A Flask test client that calls as a registered EHR: a fresh JWT per request, for its URL."""

    def __init__(self, *args: Any, sign: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sign = sign
        #: the ``jti`` of the last token sent, per thread (tests look for it in the audit trail)
        self._last = threading.local()

    @property
    def last_jti(self) -> str | None:
        return getattr(self._last, "jti", None)

    def open(self, *args: Any, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        issuer = headers.pop(SIGN_AS, EHR_A)
        tenant = headers.pop(SIGN_TENANT, None)
        path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "/")
        if self.sign and "Authorization" not in headers and isinstance(path, str):
            url = get_state(self.application).settings.public_base_url + urlsplit(path).path
            token = token_for(url, issuer, tenant=tenant)
            self._last.jti = _jti(token)
            headers["Authorization"] = f"Bearer {token}"
        return super().open(*args, headers=headers, **kwargs)


class JwtAuth(httpx.Auth):
    """The same for httpx clients talking to a live server: ``aud`` is the app's public URL + path."""

    def __init__(self, public_base_url: str, issuer: str = EHR_A, *, tenant: str | None = None) -> None:
        self.public_base_url = public_base_url
        self.issuer = issuer
        self.tenant = tenant

    def auth_flow(self, request: httpx.Request) -> Any:
        if "Authorization" not in request.headers:
            issuer = request.headers.pop(SIGN_AS, self.issuer)
            tenant = request.headers.pop(SIGN_TENANT, self.tenant)
            url = self.public_base_url + request.url.path
            request.headers["Authorization"] = f"Bearer {token_for(url, issuer, tenant=tenant)}"
        yield request


def public_url(app: Flask, path: str) -> str:
    return get_state(app).settings.public_base_url + path


def _jti(token: str) -> str:
    import base64

    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])
