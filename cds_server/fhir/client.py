"""Reading the EHR's FHIR server during a hook call (httpx, pooled, bounded in time and size).

The access token from ``fhirAuthorization`` lives only inside the :class:`HttpFetcher` made for one
request: it is sent to the checked ``fhirServer`` and nowhere else, never logged, and not used once
``expires_in`` has passed. Every failure becomes a short reason code (``timeout``, ``unauthorized``,
...) that the prefetch layer turns into "data unavailable" — never an exception, never a retry with
the same token.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from cds_server.config import Settings
from cds_server.fhir.guard import FhirServerGuard
from cds_server.fhir.guard import FhirServerPolicy
from cds_server.fhir.guard import FhirServerRejected
from cds_server.fhir.guard import same_origin_under
from cds_server.hooks.prefetch import FetchResult
from cds_server.hooks.prefetch import FhirFetcher
from cds_server.hooks.prefetch import FhirQuery
from cds_server.hooks.prefetch import next_link
from cds_server.hooks.request import HookRequest
from cds_server.telemetry.metrics import OTHER
from cds_server.telemetry.metrics import observe_fhir_fetch

log = logging.getLogger(__name__)

_STATUS_REASONS = {401: "unauthorized", 403: "forbidden", 404: "not-found", 410: "gone", 429: "rate-limited"}


class _Failed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnavailableFetcher:
    """A fetcher for requests whose FHIR server cannot be used; every query fails with one reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def fetch(self, queries: Sequence[FhirQuery], *, deadline: float) -> Mapping[str, FetchResult]:
        return {query.key: FetchResult(reason=self.reason) for query in queries}


@dataclass(frozen=True)
class _Access:
    base: str
    token: str | None
    token_deadline: float

    def __repr__(self) -> str:  # never show the token, even in a traceback
        return f"_Access(base={self.base!r}, token={'***' if self.token else None})"


class HttpFetcher:
    """Fetches one request's queries from its FHIR server, in parallel, before a deadline."""

    def __init__(self, gateway: FhirGateway, access: _Access) -> None:
        self._gateway = gateway
        self._access = access

    def fetch(self, queries: Sequence[FhirQuery], *, deadline: float) -> Mapping[str, FetchResult]:
        futures: dict[str, Future[FetchResult]] = {
            query.key: self._gateway.executor.submit(self._fetch_one, query, deadline) for query in queries
        }
        wait(futures.values(), timeout=max(0.0, deadline - time.monotonic()))
        results = {}
        for key, future in futures.items():
            if future.done():
                results[key] = future.result()
            else:
                future.cancel()
                results[key] = FetchResult(reason="timeout")
        return results

    def _fetch_one(self, query: FhirQuery, deadline: float) -> FetchResult:
        started = time.perf_counter()
        result = self._fetch_pages(query, deadline)
        # the resource type only: the path and the query string carry the patient id
        resource_type = query.path.partition("/")[0] or OTHER
        observe_fhir_fetch(resource_type, result.reason, time.perf_counter() - started)
        return result

    def _fetch_pages(self, query: FhirQuery, deadline: float) -> FetchResult:
        calls = 0
        try:
            url = query.next_url or f"{self._access.base}/{query.path}"
            params = None if query.next_url else query.params
            if query.next_url and not same_origin_under(query.next_url, self._access.base):
                raise _Failed("next-link-off-origin")
            calls += 1
            body = self._get(url, params, deadline)
            if not query.is_search:
                return FetchResult(value=body, calls=calls)
            entries = list(body.get("entry") or []) if isinstance(body.get("entry"), list) else []
            pages = 1
            link = next_link(body)
            # a continuation of a client's bundle already used one page of the cap
            page_cap = self._gateway.max_pages - (1 if query.next_url else 0)
            while link and pages < page_cap:
                if not same_origin_under(link, self._access.base):
                    # the token never leaves fhirServer: keep the pages we have, say it is partial
                    log.warning("FHIR next link leaves the fhirServer base; not followed")
                    break
                calls += 1
                page = self._get(link, None, deadline)
                page_entries = page.get("entry")
                entries.extend(page_entries if isinstance(page_entries, list) else [])
                pages += 1
                link = next_link(page)
            merged = {key: value for key, value in body.items() if key != "link"}
            merged["entry"] = entries
            return FetchResult(value=merged, calls=calls, truncated=link is not None)
        except _Failed as failure:
            return FetchResult(reason=failure.reason, calls=calls)

    def _get(self, url: str, params: tuple[tuple[str, str], ...] | None, deadline: float) -> dict[str, Any]:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0.01:
            raise _Failed("timeout")
        headers = {"Accept": "application/fhir+json, application/json"}
        if self._access.token is not None:
            if now >= self._access.token_deadline:
                raise _Failed("token-expired")
            headers["Authorization"] = f"Bearer {self._access.token}"
        gateway = self._gateway
        timeout = httpx.Timeout(
            connect=min(gateway.connect_timeout, remaining),
            read=min(gateway.read_timeout, remaining),
            write=min(gateway.read_timeout, remaining),
            pool=min(gateway.connect_timeout, remaining),
        )
        started = time.perf_counter()
        try:
            with gateway.http.stream("GET", url, params=params, headers=headers, timeout=timeout) as response:
                status = response.status_code
                if status != 200:
                    raise _Failed(_reason_for(status))
                chunks = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > gateway.max_response_bytes:
                        raise _Failed("response-too-large")
                    if time.monotonic() > deadline:
                        raise _Failed("timeout")
                    chunks.append(chunk)
        except httpx.TimeoutException:
            raise _Failed("timeout") from None
        except httpx.TransportError:
            raise _Failed("connection-failed") from None
        finally:
            # status and timing only: the URL carries the patient id
            log.debug("fhir GET done in %.1f ms", (time.perf_counter() - started) * 1000)
        try:
            body = orjson.loads(b"".join(chunks))
        except orjson.JSONDecodeError:
            raise _Failed("invalid-response") from None
        if not isinstance(body, dict):
            raise _Failed("invalid-response")
        return body


def _reason_for(status: int) -> str:
    if status in _STATUS_REASONS:
        return _STATUS_REASONS[status]
    if 300 <= status < 400:
        return "redirect-refused"
    return f"http-{status // 100}xx"


class FhirGateway:
    """The app's way to the EHRs' FHIR servers: policy, connection pool and worker threads."""

    def __init__(self, settings: Settings, *, guard: FhirServerGuard | None = None) -> None:
        self.guard = guard or FhirServerGuard(
            FhirServerPolicy.build(
                settings.fhir_servers,
                settings.fhir_open_servers,
                allow_http=settings.fhir_allow_http,
                allow_private=settings.fhir_allow_private,
            )
        )
        self.connect_timeout = settings.fhir_connect_timeout_s
        self.read_timeout = settings.fhir_read_timeout_s
        self.max_pages = settings.fhir_max_pages
        self.max_response_bytes = settings.fhir_max_response_bytes
        self._parallel = settings.fhir_parallel
        self._lock = threading.Lock()
        self._http: httpx.Client | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def http(self) -> httpx.Client:
        # created on first use, i.e. after gunicorn forked the worker
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    follow_redirects=False,
                    trust_env=False,
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                )
            return self._http

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self._parallel * 4, thread_name_prefix="fhir-fetch"
                )
            return self._executor

    def for_request(
        self, request: HookRequest, *, received: float, policy: FhirServerPolicy | None = None
    ) -> FhirFetcher:
        """A fetcher bound to this request's ``fhirServer`` and token, or one that explains why not.

        ``policy`` is the calling client's own fhirServer allow-list; ``None`` means the server-wide
        ``CDS_FHIR_SERVERS``. The token is only ever sent to a server that passed that policy.
        """
        if request.fhirServer is None:
            return UnavailableFetcher("no-fhir-server")
        try:
            base = self.guard.check(request.fhirServer, policy)
        except FhirServerRejected as rejected:
            log.warning("fhirServer rejected: %s", rejected.reason)
            return UnavailableFetcher(rejected.reason)
        authorization = request.fhirAuthorization
        if authorization is not None and authorization.usable():
            return HttpFetcher(
                self, _Access(base, authorization.access_token, received + authorization.expires_in)
            )
        if self.guard.is_open(base, policy):
            return HttpFetcher(self, _Access(base, None, float("inf")))
        return UnavailableFetcher("no-usable-fhir-authorization")

    def allowed_base(self, request: HookRequest, *, policy: FhirServerPolicy | None = None) -> str | None:
        """The normalised ``fhirServer`` if ``policy`` (the client's, else the server's) allows it."""
        if request.fhirServer is None:
            return None
        try:
            return self.guard.check(request.fhirServer, policy)
        except FhirServerRejected:
            return None

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
