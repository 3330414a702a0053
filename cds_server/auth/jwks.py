"""Keys for the verifier: inline JWKS as registered, or a client's ``jwks_url`` fetched and cached.

The only URL ever fetched is the one registered for the client (never a token's ``jku``). Fetching is
HTTPS only, without redirects or proxies from the environment, capped at 64 KiB and 2 s. A key set is
cached for an hour; a ``kid`` it does not know triggers a refresh (key rotation), but at most once
per five minutes per issuer, so a flood of made-up ``kid`` values costs the EHR one request per five
minutes. When a refresh fails the last good key set keeps being used (stale beats down).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from cds_server.auth.clients import ClientConfigError
from cds_server.auth.clients import TrustedClient
from cds_server.auth.clients import import_jwks

log = logging.getLogger("cds_server.security")

MAX_JWKS_BYTES = 64 * 1024
FETCH_TIMEOUT_S = 2.0
CACHE_TTL_S = 3600.0
MIN_REFRESH_INTERVAL_S = 300.0

Clock = Callable[[], float]


class JwksFetchError(Exception):
    """The key set could not be fetched; ``reason`` is a content-free code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksFetcher:
    """GETs a JWKS document: https only, no redirects, size and time capped."""

    def __init__(self, *, verify: ssl.SSLContext | bool = True, timeout_s: float = FETCH_TIMEOUT_S) -> None:
        self._verify = verify
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        # created on first use, i.e. after gunicorn forked the worker
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    follow_redirects=False, trust_env=False, verify=self._verify, timeout=self._timeout
                )
            return self._http

    def fetch(self, url: str) -> Mapping[str, Any]:
        if not url.startswith("https://"):
            raise JwksFetchError("https-required")
        deadline = time.monotonic() + self._timeout
        try:
            with self._client().stream("GET", url, headers={"Accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise JwksFetchError(f"http-{response.status_code}")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > MAX_JWKS_BYTES:
                        raise JwksFetchError("too-large")
                    if time.monotonic() > deadline:
                        raise JwksFetchError("timeout")
        except httpx.TimeoutException:
            raise JwksFetchError("timeout") from None
        except httpx.HTTPError:
            raise JwksFetchError("connection-failed") from None
        try:
            document = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise JwksFetchError("invalid-json") from None
        if not isinstance(document, dict):
            raise JwksFetchError("not-a-jwks")
        return document

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None


@dataclass
class _Entry:
    keys: Mapping[str, Any]
    fetched_at: float
    #: last fetch attempt, successful or not: what the refresh rate limit counts from
    attempted_at: float


class JwksCache:
    """``find_key(client, kid)`` for the verifier; fetches registered URLs through ``fetcher``."""

    def __init__(
        self,
        fetcher: JwksFetcher,
        *,
        clock: Clock = time.monotonic,
        ttl_s: float = CACHE_TTL_S,
        min_refresh_s: float = MIN_REFRESH_INTERVAL_S,
    ) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._ttl = ttl_s
        self._min_refresh = min_refresh_s
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        #: fetches made, per issuer (tests and ``/readyz`` read it)
        self.fetches: dict[str, int] = {}

    def find_key(self, client: TrustedClient, kid: str) -> Any | None:
        if client.keys is not None:
            return client.keys.get(kid)
        assert client.jwks_url is not None
        entry = self._entries.get(client.issuer)
        now = self._clock()
        if entry is not None and kid in entry.keys and now - entry.fetched_at < self._ttl:
            return entry.keys[kid]
        entry = self._refresh(client, client.jwks_url)
        return None if entry is None else entry.keys.get(kid)

    def _refresh(self, client: TrustedClient, url: str) -> _Entry | None:
        with self._guard:
            lock = self._locks.setdefault(client.issuer, threading.Lock())
        with lock:  # one fetch per issuer at a time; the others wait for its result
            entry = self._entries.get(client.issuer)
            now = self._clock()
            if entry is not None and now - entry.attempted_at < self._min_refresh:
                return entry
            self.fetches[client.issuer] = self.fetches.get(client.issuer, 0) + 1
            try:
                keys = import_jwks(
                    self._fetcher.fetch(url), where=f"jwks_url of {client.issuer!r}", public_only=False
                )
            except (JwksFetchError, ClientConfigError) as error:
                reason = error.reason if isinstance(error, JwksFetchError) else "invalid-jwks"
                log.warning(
                    "jwks fetch failed for issuer %s: %s (serving %s)",
                    client.issuer,
                    reason,
                    "the cached key set" if entry else "no keys",
                )
                if entry is None:
                    self._entries[client.issuer] = _Entry({}, fetched_at=float("-inf"), attempted_at=now)
                    return None
                entry.attempted_at = now
                return entry
            fresh = _Entry(keys, fetched_at=now, attempted_at=now)
            self._entries[client.issuer] = fresh
            return fresh

    def close(self) -> None:
        self._fetcher.close()
