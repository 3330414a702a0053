"""Hand-made JWTs for attack tests: any header, any payload, any (or no) signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

from joserfc.jws import JWSRegistry

from cds_server.auth.devclient import SigningKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def claims(
    issuer: str, audience: Any, *, now: float | None = None, lifetime: int = 300, **extra: Any
) -> dict[str, Any]:
    """Good claims, then ``extra`` (a value of ``None`` removes the claim)."""
    issued = int(time.time() if now is None else now)
    body: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": uuid.uuid4().hex,
    }
    body.update(extra)
    return {name: value for name, value in body.items() if value is not None}


def signed(
    header: dict[str, Any], payload: dict[str, Any], signing: SigningKey, *, alg: str | None = None
) -> str:
    """Signed with ``signing``'s key under ``alg`` (default its own), the header exactly as given.

    The signature is computed directly (no header checks), so headers a library would refuse to
    produce (``crit``, ``jwk``, ``x5u``) can be sent.
    """
    algorithm = alg or signing.alg
    signing_input = f"{segment({'alg': algorithm, **header})}.{segment(payload)}"
    signature = JWSRegistry.algorithms[algorithm].sign(signing_input.encode(), signing.key)
    return f"{signing_input}.{b64(signature)}"


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{segment(header)}.{segment(payload)}."


def hmac_signed(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    """HS256 by hand (joserfc refuses to build an HMAC key from a PEM public key, rightly)."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"
