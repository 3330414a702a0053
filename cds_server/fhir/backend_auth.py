"""SMART Backend Services: the server's own access token for a backend FHIR server.

``client_credentials`` grant with a ``private_key_jwt`` client assertion (RFC 7523), signed with the
key of the backends file, through Authlib's OAuth 2 client (its core client, on our httpx client:
the same timeouts, no redirects, no proxies from the environment). Tokens are cached per backend until
shortly before they expire and never logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from authlib.oauth2.client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523 import private_key_jwt_sign

from cds_server.fhir.backends import Backend

#: SMART asks for client assertions that expire within five minutes
ASSERTION_LIFETIME_S = 300
#: a token this close to its expiry is renewed first
RENEW_BEFORE_S = 30.0


class BackendAuthError(Exception):
    """No token: the token endpoint refused (``transient`` False) or could not be reached (True)."""

    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class _FreshAssertion(PrivateKeyJWT):  # type: ignore[misc]  # Authlib has no type hints
    """Authlib's private_key_jwt with a new ``jti`` and a five-minute ``exp`` for every request."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            claims={},  # a fresh dict: Authlib writes the jti into it
            header=dict(self.headers or {}),
            alg=self.alg,
            expires_in=ASSERTION_LIFETIME_S,
        )


class _HttpxOAuth2Client(OAuth2Client):  # type: ignore[misc]
    """Authlib's core OAuth 2 client posting through an ``httpx.Client`` we configured."""

    def _fetch_token(
        self,
        url: str,
        body: str = "",
        headers: Any = None,
        auth: Any = None,
        method: str = "POST",
        **kwargs: Any,
    ) -> Any:
        url, prepared_headers, prepared_body = auth.prepare(method, url, dict(headers or {}), body)
        response = self.session.post(url, content=prepared_body, headers=prepared_headers)
        return self.parse_response_token(response)


class SmartBackendToken:
    """Bearer tokens for one backend, fetched on demand and cached (thread-safe)."""

    def __init__(self, backend: Backend, *, clock: Callable[[], float] = time.time) -> None:
        if backend.key is None or backend.auth.clientId is None:
            raise ValueError("a smart-backend backend needs a client id and a key")
        self.backend = backend
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_url: str | None = backend.auth.tokenUrl

    def authorization(self, http: httpx.Client) -> str:
        """``Bearer …`` for the next request (a new token is fetched through ``http`` when needed).

        :raise BackendAuthError: no token could be had.
        """
        with self._lock:
            if self._token is None or self._clock() > self._expires_at - RENEW_BEFORE_S:
                self._fetch(http)
            assert self._token is not None
            return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """Forget the token (the server answered 401: it may have been revoked or rotated)."""
        with self._lock:
            self._token = None

    def _fetch(self, http: httpx.Client) -> None:
        token_url = self._token_url or self._discover(http)
        auth = self.backend.auth
        client = _HttpxOAuth2Client(
            http,
            client_id=auth.clientId,
            client_secret=self.backend.key,
            token_endpoint_auth_method="private_key_jwt",  # noqa: S106 - a method name, not a secret
            scope=auth.scope,
        )
        client.register_client_auth_method(
            _FreshAssertion(token_url, headers={"kid": auth.keyId}, alg=auth.algorithm)
        )
        try:
            token = client.fetch_token(token_url, grant_type="client_credentials")
        except httpx.TransportError:
            raise BackendAuthError("token-endpoint-unreachable", transient=True) from None
        except httpx.HTTPStatusError as error:
            status = error.response.status_code
            raise BackendAuthError(f"token-endpoint-http-{status}", transient=status >= 500) from None
        except Exception as error:  # Authlib's OAuth2Error and ValueError: a refusal; never log its text
            raise BackendAuthError(f"token-refused:{type(error).__name__}", transient=False) from None
        access = token.get("access_token")
        if not isinstance(access, str) or not access:
            raise BackendAuthError("token-response-without-access-token", transient=False)
        expires_in = token.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 300.0
        self._token, self._expires_at = access, self._clock() + lifetime
        self._token_url = token_url

    def _discover(self, http: httpx.Client) -> str:
        url = f"{self.backend.base_url}/.well-known/smart-configuration"
        try:
            response = http.get(url, headers={"Accept": "application/json"})
        except httpx.TransportError:
            raise BackendAuthError("smart-configuration-unreachable", transient=True) from None
        if response.status_code != 200:
            raise BackendAuthError(
                f"smart-configuration-http-{response.status_code}", transient=response.status_code >= 500
            )
        try:
            endpoint = response.json().get("token_endpoint")
        except ValueError:
            endpoint = None
        if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")):
            raise BackendAuthError("smart-configuration-without-token-endpoint", transient=False)
        return endpoint
