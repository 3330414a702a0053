"""A job's FHIR client for one backend server: paged searches, reads, transactions, Bulk Data $export.

Unlike the hook-time fetcher there is no 2.5 s deadline — jobs read whole records — but every request
has a timeout, ``next`` links and export files are followed only under the backend's own origin (the
token goes nowhere else), redirects are refused, and page counts are capped. Failures become
:class:`BackendError` with a content-free ``reason`` and whether trying again later may help.
URLs carry patient ids, so they are never logged.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from cds_server.fhir.backend_auth import BackendAuthError
from cds_server.fhir.backend_auth import SmartBackendToken
from cds_server.fhir.backends import Backend
from cds_server.fhir.guard import same_origin_under
from cds_server.hooks.prefetch import next_link

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"
#: longest wait between two $export status polls, whatever Retry-After says
MAX_POLL_S = 10.0


class BackendError(Exception):
    def __init__(self, reason: str, *, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class BackendClient:
    def __init__(
        self,
        backend: Backend,
        *,
        timeout_s: float,
        max_pages: int,
        http: httpx.Client | None = None,
        token: SmartBackendToken | None = None,
    ) -> None:
        self.backend = backend
        self.base = backend.base_url
        self.max_pages = max_pages
        self._own_http = http is None
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
        )
        if backend.auth.type == "smart-backend":
            # a token outlives one client: pass the process's cached one to spare a token request per chunk
            self._token: SmartBackendToken | None = token or SmartBackendToken(backend)
        else:
            self._token = None
        self._capabilities: dict[str, Any] | None = None

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> BackendClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- reads ------------------------------------------------------------------------------------

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """The resource, or None when the server says it does not exist (404/410)."""
        try:
            return self._json("GET", f"{self.base}/{resource_type}/{resource_id}")
        except BackendError as error:
            if error.reason in ("http-404", "http-410"):
                return None
            raise

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        """Every matching resource (``search`` mode entries), all pages, up to ``max_pages``."""
        url: str | None = f"{self.base}/{resource_type}"
        query: Sequence[tuple[str, str]] | None = params
        pages = 0
        while url is not None:
            if pages >= self.max_pages:
                raise BackendError("too-many-pages", transient=False)
            page = self._json("GET", url, params=query)
            pages += 1
            for entry in page.get("entry") or ():
                resource = entry.get("resource") if isinstance(entry, dict) else None
                mode = (entry.get("search") or {}).get("mode", "match") if isinstance(entry, dict) else None
                if isinstance(resource, dict) and mode in ("match", None):
                    yield resource
            url, query = next_link(page), None
            if url is not None and not same_origin_under(url, self.base):
                raise BackendError("next-link-off-origin", transient=False)

    def capabilities(self) -> dict[str, Any]:
        if self._capabilities is None:
            self._capabilities = self._json("GET", f"{self.base}/metadata")
        return self._capabilities

    def supports_export(self, level: str) -> bool:
        """Whether the CapabilityStatement offers ``$export`` at ``level`` (system, Patient or Group)."""
        try:
            statement = self.capabilities()
        except BackendError:
            return False
        for rest in statement.get("rest") or ():
            operations = list(rest.get("operation") or ())
            if level != "system":
                for resource in rest.get("resource") or ():
                    if resource.get("type") == level:
                        operations.extend(resource.get("operation") or ())
            elif any(op.get("name") in ("export", "$export") for op in operations):
                return True
            if level != "system" and any(op.get("name") in ("export", "$export") for op in operations):
                return True
        return False

    # --- Bulk Data ------------------------------------------------------------------------------------

    def export(
        self, path: str, types: Sequence[str], *, deadline: float, check: Any = None
    ) -> Iterator[dict[str, Any]]:
        """Run a Bulk Data ``$export`` (``path``: ``Group/{id}`` or ``Patient``) and stream its resources.

        ``check`` is called while waiting (a job's lease check). The export is deleted afterwards.
        """
        kickoff = f"{self.base}/{path}/$export"
        response = self._request(
            "GET",
            kickoff,
            params=[("_type", ",".join(types))],
            headers={"Prefer": "respond-async", "Accept": FHIR_JSON},
        )
        if response.status_code != 202:
            raise BackendError(
                f"export-kickoff-http-{response.status_code}", transient=response.status_code >= 500
            )
        status_url = response.headers.get("Content-Location", "")
        if not _same_origin(status_url, self.base):
            raise BackendError("export-status-off-origin", transient=False)
        manifest = self._await_export(status_url, deadline=deadline, check=check)
        try:
            for item in manifest.get("output") or ():
                url = item.get("url", "") if isinstance(item, dict) else ""
                if not _same_origin(url, self.base):
                    raise BackendError("export-file-off-origin", transient=False)
                yield from self._ndjson(url)
        finally:
            with contextlib.suppress(BackendError):  # the server expires exports itself
                self._request("DELETE", status_url)

    def _await_export(self, status_url: str, *, deadline: float, check: Any) -> dict[str, Any]:
        while True:
            if check is not None:
                check()
            response = self._request("GET", status_url, headers={"Accept": "application/json"})
            if response.status_code == 200:
                return _json_body(response)
            if response.status_code != 202:
                raise BackendError(
                    f"export-http-{response.status_code}", transient=response.status_code >= 500
                )
            if time.monotonic() > deadline:
                raise BackendError("export-timeout", transient=True)
            try:
                wait = float(response.headers.get("Retry-After", "1"))
            except ValueError:
                wait = 1.0
            time.sleep(min(max(wait, 0.2), MAX_POLL_S, max(0.0, deadline - time.monotonic())))

    def _ndjson(self, url: str) -> Iterator[dict[str, Any]]:
        headers = {"Accept": "application/fhir+ndjson"}
        self._authorize(headers)
        try:
            with self.http.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise BackendError(
                        f"export-file-http-{response.status_code}", transient=response.status_code >= 500
                    )
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    try:
                        resource = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        raise BackendError("export-file-not-ndjson", transient=False) from None
                    if isinstance(resource, dict):
                        yield resource
        except httpx.TimeoutException:
            raise BackendError("timeout", transient=True) from None
        except httpx.TransportError:
            raise BackendError("connection-failed", transient=True) from None

    # --- writes ---------------------------------------------------------------------------------------

    def transaction(self, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """POST a transaction Bundle; the response Bundle (every entry succeeded, or an error)."""
        return self._json("POST", self.base, body=bundle)

    # --- plumbing -------------------------------------------------------------------------------------

    def _json(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept": FHIR_JSON}
        if body is not None:
            headers["Content-Type"] = FHIR_JSON
        response = self._request(method, url, params=params, headers=headers, body=body)
        if not 200 <= response.status_code < 300:
            raise BackendError(
                f"http-{response.status_code}",
                transient=response.status_code in (408, 429) or response.status_code >= 500,
            )
        return _json_body(response)

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        content = orjson.dumps(body) if body is not None else None
        for attempt in (1, 2):
            sent = dict(headers or {})
            self._authorize(sent)
            try:
                query = httpx.QueryParams(list(params)) if params is not None else None
                response = self.http.request(method, url, params=query, headers=sent, content=content)
            except httpx.TimeoutException:
                raise BackendError("timeout", transient=True) from None
            except httpx.TransportError:
                raise BackendError("connection-failed", transient=True) from None
            if response.status_code == 401 and self._token is not None and attempt == 1:
                self._token.invalidate()  # revoked or rotated: one new token, then give up
                continue
            if 300 <= response.status_code < 400:
                raise BackendError("redirect-refused", transient=False)
            return response
        return response

    def _authorize(self, headers: dict[str, str]) -> None:
        if self._token is None:
            return
        try:
            headers["Authorization"] = self._token.authorization(self.http)
        except BackendAuthError as error:
            raise BackendError(error.reason, transient=error.transient) from None


def _json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise BackendError("invalid-response", transient=False) from None
    if not isinstance(body, dict):
        raise BackendError("invalid-response", transient=False)
    return body


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return bool(url) and (a.scheme, a.netloc) == (b.scheme, b.netloc) and "@" not in a.netloc
