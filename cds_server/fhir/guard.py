"""SSRF guard for ``fhirServer``: a client-supplied URL is an attacker's URL until it passes here.

A URL is accepted only if it equals (after normalisation) a base URL the operator allowed; it uses
https (http only when development allows it); it has no userinfo, query or fragment; and every
address its host resolves to is public unless private networks are allowed. The check runs before
any connection, so a rejected URL never causes one. ``next`` links are followed only when they stay
under the accepted base (same scheme, host, port and path prefix).
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Sequence[str]]


class FhirServerRejected(Exception):
    """The URL may not be contacted; ``reason`` is a stable, content-free code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalize_base(url: str) -> str:
    """``scheme://host[:port]/path`` lower-cased where case does not matter, no trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    default_port = {"https": 443, "http": 80}.get(parts.scheme.lower())
    port = f":{parts.port}" if parts.port and parts.port != default_port else ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}{port}{parts.path.rstrip('/')}"


def _system_resolver(host: str, port: int) -> Sequence[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class FhirServerPolicy:
    allowed: frozenset[str]
    open_servers: frozenset[str]
    allow_http: bool = False
    allow_private: bool = False

    @classmethod
    def build(
        cls, allowed: Sequence[str], open_servers: Sequence[str], *, allow_http: bool, allow_private: bool
    ) -> FhirServerPolicy:
        return cls(
            allowed=frozenset(normalize_base(url) for url in allowed),
            open_servers=frozenset(normalize_base(url) for url in open_servers),
            allow_http=allow_http,
            allow_private=allow_private,
        )


class FhirServerGuard:
    """Checks ``fhirServer`` URLs against a :class:`FhirServerPolicy`; caches DNS answers briefly."""

    def __init__(
        self, policy: FhirServerPolicy, *, resolver: Resolver = _system_resolver, dns_ttl_s: float = 30.0
    ) -> None:
        self.policy = policy
        self._resolve = resolver
        self._ttl = dns_ttl_s
        self._cache: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    def check(self, url: str, policy: FhirServerPolicy | None = None) -> str:
        """The normalised base URL to use for ``url``, under ``policy`` (default: the guard's own).

        :raise FhirServerRejected: the URL may not be contacted (no connection has been made).
        """
        policy = policy or self.policy
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("https", "http"):
            raise FhirServerRejected("scheme-not-allowed")
        if scheme == "http" and not policy.allow_http:
            raise FhirServerRejected("https-required")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise FhirServerRejected("userinfo-not-allowed")
        if parts.query or parts.fragment:
            raise FhirServerRejected("query-not-allowed")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FhirServerRejected("malformed-url") from None
        host = parts.hostname
        if not host:
            raise FhirServerRejected("malformed-url")
        base = normalize_base(url)
        if base not in policy.allowed:
            raise FhirServerRejected("fhir-server-not-allowed")
        if not policy.allow_private:
            for address in self._addresses(host, port):
                if not _is_public(address):
                    raise FhirServerRejected("private-address-not-allowed")
        return base

    def is_open(self, base: str, policy: FhirServerPolicy | None = None) -> bool:
        return base in (policy or self.policy).open_servers

    def _addresses(self, host: str, port: int) -> tuple[str, ...]:
        try:
            return (str(ipaddress.ip_address(host)),)
        except ValueError:
            pass
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get((host, port))
        if cached and cached[0] > now:
            return cached[1]
        try:
            addresses = tuple(self._resolve(host, port))
        except OSError:
            raise FhirServerRejected("dns-failure") from None
        if not addresses:
            raise FhirServerRejected("dns-failure")
        with self._lock:
            self._cache[(host, port)] = (now + self._ttl, addresses)
        return addresses


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def same_origin_under(url: str, base: str) -> bool:
    """Whether ``url`` (a ``next`` link) stays under ``base``: same scheme, host, port and path prefix."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return False
    path_base = normalize_base(f"{parts.scheme}://{parts.netloc}{parts.path}")
    return path_base == base or path_base.startswith(base + "/")
