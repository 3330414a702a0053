"""Verifying an EHR client's bearer JWT: no I/O here, keys and clock come in as arguments.

The order (reliability-security §2.1; docs/security.md):

1. ``Authorization: Bearer <jwt>``; at most 8 KiB; three base64url segments.
2. Header and payload decoded *without trusting them* (orjson, size-capped).
3. ``iss`` must be a registered client.
4. Header: ``alg`` in that client's allow-list; ``typ`` is ``JWT`` when present; ``kid`` required;
   ``jwk``/``x5u``/``x5c``/``x5t`` and any ``crit`` rejected; ``jku`` only if it equals the registered URL.
5. Signature with the registered key of that ``kid`` only, the algorithm passed explicitly.
6. Claims (joserfc ``JWTClaimsRegistry``, all essential): ``iss``, ``aud`` equal to the exact URL
   called (or an array holding it), ``exp``/``iat`` (and ``nbf``) with leeway, ``jti``; then the
   lifetime and age caps; the tenant allow-list when the client was registered with tenants.

The ``jti`` replay check (step 7) needs a shared store and happens in :mod:`cds_server.auth.authenticator`.
Every failure raises :class:`TokenRejected` with a stable reason code; the token itself is never put in
an exception.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from joserfc import jws
from joserfc.errors import ClaimError
from joserfc.errors import ExpiredTokenError
from joserfc.errors import JoseError
from joserfc.errors import MissingClaimError
from joserfc.jwt import JWTClaimsRegistry

from cds_server.auth.clients import TrustedClient
from cds_server.hooks.decisions import ClientIdentity

#: gunicorn's header field limit is 8190 bytes; a token anywhere near it is not a CDS Hooks JWT
MAX_TOKEN_CHARS = 8192
MAX_KID_CHARS = 256
MAX_JTI_CHARS = 255
MAX_TENANT_CHARS = 512
_SEGMENTS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
#: headers that carry or point to a key: a key must come from the registry, never from the token
_KEY_BEARING_HEADERS = ("jwk", "x5u", "x5c", "x5t", "x5t#S256")

FindClient = Callable[[str], "TrustedClient | None"]
FindKey = Callable[[TrustedClient, str], Any]


class TokenRejected(Exception):
    """The token is not accepted. ``reason`` is a stable code for logs; never shown to the caller."""

    def __init__(
        self,
        reason: str,
        *,
        issuer: str | None = None,
        kid: str | None = None,
        jti: str | None = None,
        claimed_issuer: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        #: the issuer, only once it is known to be registered (an unknown one is attacker text)
        self.issuer = issuer
        #: an ``iss`` that is not registered: attacker text, kept only as a hash by the event log
        self.claimed_issuer = claimed_issuer
        self.kid = kid
        self.jti_hash = jti_digest(issuer or "", jti) if jti else None


@dataclass(frozen=True)
class JwtPolicy:
    """Server-wide limits; a client may tighten the lifetime and widen the leeway (the sandbox)."""

    leeway_s: int = 60
    max_lifetime_s: int = 3600


@dataclass(frozen=True)
class VerifiedToken:
    client: TrustedClient
    kid: str
    jti: str
    expires_at: float
    subject: str | None
    tenant: str | None

    @property
    def identity(self) -> ClientIdentity:
        return ClientIdentity(
            issuer=self.client.issuer, subject=self.subject, tenant=self.tenant, token_id=self.jti
        )

    @property
    def jti_hash(self) -> str:
        return jti_digest(self.client.issuer, self.jti)


def jti_digest(issuer: str, jti: str) -> str:
    """The replay-store key and log reference of a ``jti``: its SHA-256 with the issuer."""
    return hashlib.sha256(f"{issuer}|{jti}".encode()).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header.

    :raise TokenRejected: no header, another scheme, or a token too long to be one of ours.
    """
    if not authorization:
        raise TokenRejected("no-authorization")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise TokenRejected("not-bearer")
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRejected("token-too-large")
    if not _SEGMENTS.match(token):
        raise TokenRejected("malformed-token")
    return token


def verify_client_jwt(
    token: str,
    *,
    find_client: FindClient,
    find_key: FindKey,
    audience: str,
    now: float,
    policy: JwtPolicy,
) -> VerifiedToken:
    """Steps 2 to 6 above for a token from :func:`bearer_token`.

    :raise TokenRejected: at the first check that fails.
    """
    header_segment, payload_segment, _ = token.split(".")
    header = _untrusted_json(header_segment)
    unverified = _untrusted_json(payload_segment)
    issuer = unverified.get("iss")
    if not isinstance(issuer, str):
        raise TokenRejected("no-issuer")
    client = find_client(issuer)
    if client is None:
        raise TokenRejected("unknown-issuer", claimed_issuer=issuer)
    kid = _check_header(header, client)
    key = find_key(client, kid)
    if key is None:
        raise TokenRejected("unknown-kid", issuer=issuer, kid=kid)
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[header["alg"]])
        claims = orjson.loads(verified.payload or b"")
    except (JoseError, ValueError, TypeError):
        # ValueError/TypeError: a key that does not fit the algorithm (an RSA key for ES384, ...)
        raise TokenRejected("bad-signature", issuer=issuer, kid=kid) from None
    if not isinstance(claims, dict):
        raise TokenRejected("payload-not-an-object", issuer=issuer, kid=kid)
    return _check_claims(claims, client, kid=kid, audience=audience, now=now, policy=policy)


def _untrusted_json(segment: str) -> dict[str, Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        raise TokenRejected("malformed-token") from None
    if not isinstance(value, dict):
        raise TokenRejected("malformed-token")
    return value


def _check_header(header: Mapping[str, Any], client: TrustedClient) -> str:
    issuer = client.issuer
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in client.algorithms:
        raise TokenRejected("algorithm-not-allowed", issuer=issuer)
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
        raise TokenRejected("typ-not-jwt", issuer=issuer)
    if any(name in header for name in _KEY_BEARING_HEADERS):
        raise TokenRejected("key-in-header", issuer=issuer)
    if "crit" in header:
        # we implement no JWS extension, so any critical one is one we do not understand
        raise TokenRejected("unknown-critical-header", issuer=issuer)
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_CHARS:
        raise TokenRejected("no-kid", issuer=issuer)
    jku = header.get("jku")
    if jku is not None and (client.jku is None or jku != client.jku):
        raise TokenRejected("jku-not-registered", issuer=issuer, kid=kid)
    return kid


def _check_claims(
    claims: dict[str, Any], client: TrustedClient, *, kid: str, audience: str, now: float, policy: JwtPolicy
) -> VerifiedToken:
    issuer = client.issuer
    raw_jti = claims.get("jti")
    jti = raw_jti if isinstance(raw_jti, str) else None
    leeway = max(policy.leeway_s, client.leeway_s or 0)
    registry = JWTClaimsRegistry(
        now=int(now),
        leeway=leeway,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
        iat={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except MissingClaimError as error:
        raise TokenRejected(f"missing-claim:{error.claim}", issuer=issuer, kid=kid, jti=jti) from None
    except ExpiredTokenError:
        raise TokenRejected("expired", issuer=issuer, kid=kid, jti=jti) from None
    except ClaimError as error:
        raise TokenRejected(
            _CLAIM_REASONS.get(error.claim, f"invalid-claim:{error.claim}"), issuer=issuer, kid=kid, jti=jti
        ) from None
    assert jti is not None  # validated as an essential string claim
    if len(jti) > MAX_JTI_CHARS:
        raise TokenRejected("invalid-claim:jti", issuer=issuer, kid=kid)
    exp, iat = float(claims["exp"]), float(claims["iat"])
    max_lifetime = min(policy.max_lifetime_s, client.max_lifetime_s or policy.max_lifetime_s)
    if exp - iat > max_lifetime:
        raise TokenRejected("lifetime-too-long", issuer=issuer, kid=kid, jti=jti)
    if now - iat > max_lifetime + leeway:
        raise TokenRejected("issued-too-long-ago", issuer=issuer, kid=kid, jti=jti)
    tenant = claims.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not 0 < len(tenant) <= MAX_TENANT_CHARS):
        raise TokenRejected("invalid-claim:tenant", issuer=issuer, kid=kid, jti=jti)
    if client.tenants:  # a client registered with tenants must name one of them
        if tenant is None:
            raise TokenRejected("missing-claim:tenant", issuer=issuer, kid=kid, jti=jti)
        if tenant not in client.tenants:
            raise TokenRejected("tenant-not-allowed", issuer=issuer, kid=kid, jti=jti)
    subject = claims.get("sub")
    return VerifiedToken(
        client=client,
        kid=kid,
        jti=jti,
        expires_at=exp,
        subject=subject if isinstance(subject, str) else None,
        tenant=tenant,
    )


_CLAIM_REASONS = {
    "aud": "wrong-audience",
    "iss": "issuer-mismatch",
    "iat": "issued-in-future",
    "nbf": "not-yet-valid",
}
