"""Authenticating one call: bearer JWT → verified client, replay check, rate limit.

This is where the pure verifier meets its I/O edges (the key cache, the replay store, the security
event log). Every refusal becomes the same :class:`~cds_server.errors.AuthenticationFailed` (one body
for every cause); the reason goes to the security log and the ``security_event`` table only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cds_server.auth.events import SecurityEvents
from cds_server.auth.events import SecurityFact
from cds_server.auth.jwks import JwksCache
from cds_server.auth.ratelimit import Limit
from cds_server.auth.ratelimit import RateLimiter
from cds_server.auth.ratelimit import retry_after_s
from cds_server.auth.registry import ClientRegistry
from cds_server.auth.replay import ReplayStore
from cds_server.auth.verify import JwtPolicy
from cds_server.auth.verify import TokenRejected
from cds_server.auth.verify import VerifiedToken
from cds_server.auth.verify import bearer_token
from cds_server.auth.verify import verify_client_jwt
from cds_server.errors import AuthenticationFailed
from cds_server.errors import RateLimited


@dataclass(frozen=True)
class CallSite:
    """Where a call came in: for the audience and the security log."""

    audience: str
    endpoint: str
    request_id: str
    source_ip: str | None = None


class Authenticator:
    def __init__(
        self,
        *,
        registry: ClientRegistry,
        keys: JwksCache,
        replay: ReplayStore,
        limiter: RateLimiter,
        events: SecurityEvents,
        policy: JwtPolicy,
        default_limit: Limit,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.keys = keys
        self.replay = replay
        self.limiter = limiter
        self.events = events
        self.policy = policy
        self.default_limit = default_limit
        self._clock = clock

    def authenticate(self, authorization: str | None, site: CallSite) -> VerifiedToken:
        """The verified token of a call.

        :raise AuthenticationFailed: any check failed (401, the same body for every reason).
        :raise ReplayStoreUnavailable: the replay store could not be asked (503, fail closed).
        """
        now = self._clock()
        try:
            token = bearer_token(authorization)
            verified = verify_client_jwt(
                token,
                find_client=self.registry.find,
                find_key=self.keys.find_key,
                audience=site.audience,
                now=now,
                policy=self.policy,
            )
            leeway = max(self.policy.leeway_s, verified.client.leeway_s or 0)
            if not self.replay.claim(verified.jti_hash, expires_at=verified.expires_at + leeway, now=now):
                raise TokenRejected(
                    "replayed", issuer=verified.client.issuer, kid=verified.kid, jti=verified.jti
                )
        except TokenRejected as rejected:
            self.refused(rejected, site)
            raise AuthenticationFailed(rejected.reason) from None
        return verified

    def refused(self, rejected: TokenRejected, site: CallSite, *, kind: str = "authentication") -> None:
        self.events.record(
            SecurityFact(
                kind=kind,
                reason=rejected.reason,
                endpoint=site.endpoint,
                request_id=site.request_id,
                issuer=rejected.issuer,
                claimed_issuer=rejected.claimed_issuer,
                kid=rejected.kid,
                jti_hash=rejected.jti_hash,
                source_ip=site.source_ip,
            )
        )

    def check_rate(self, verified: VerifiedToken) -> None:
        """:raise RateLimited: the client used up its bucket (429 with ``Retry-After``)."""
        client = verified.client
        limit = Limit(
            per_s=client.rate_limit_per_s or self.default_limit.per_s,
            burst=client.rate_limit_burst or self.default_limit.burst,
        )
        wait = self.limiter.acquire(f"{client.issuer}|{verified.tenant or ''}", limit)
        if wait > 0:
            raise RateLimited(retry_after=retry_after_s(wait))

    def close(self) -> None:
        self.keys.close()
        self.replay.close()
        self.limiter.close()
