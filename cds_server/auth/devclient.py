"""The development client: a key pair generated on first start, so a newcomer can call the server.

With ``CDS_DEV_CLIENT=true`` (the default) the server trusts the issuer ``urn:cds-server:dev-client``
whose ES384 key pair lives in ``CDS_DEV_CLIENT_DIR`` (``instance/dev-client/`` by default).
``cds-server dev token --url URL`` signs a JWT with it. Anyone who can read that folder can call the
server, which is why production turns it off and the server warns at start while it is on.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import import_key

from cds_server.auth.clients import ClientSpec

DEV_ISSUER = "urn:cds-server:dev-client"
PRIVATE_KEY_FILE = "private-key.jwk.json"
PUBLIC_JWKS_FILE = "jwks.json"


@dataclass(frozen=True)
class SigningKey:
    """A private key and how tokens signed with it name it."""

    key: Any
    kid: str
    alg: str

    def public_jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "alg": self.alg, "use": "sig"}]}


def ensure_dev_key(folder: Path) -> SigningKey:
    """The development key pair in ``folder``, generated (once, even with racing workers) if missing."""
    path = folder / PRIVATE_KEY_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = ECKey.generate_key("P-384", private=True)
        document = {**key.as_dict(private=True), "kid": key.thumbprint(), "alg": "ES384"}
        # write a private temporary file, then link it into place: the link fails if another worker
        # won the race, and nobody ever reads a half-written key
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".key-")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(document, out)
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    document = json.loads(path.read_text())
    signing = SigningKey(
        import_key(document), kid=str(document["kid"]), alg=str(document.get("alg", "ES384"))
    )
    public = folder / PUBLIC_JWKS_FILE
    if not public.exists():
        public.write_text(json.dumps(signing.public_jwks(), indent=2) + "\n")
    return signing


def dev_client_spec(signing: SigningKey) -> ClientSpec:
    return ClientSpec(issuer=DEV_ISSUER, jwks=signing.public_jwks(), algorithms=(signing.alg,))


def mint_token(
    signing: SigningKey,
    *,
    issuer: str,
    audience: str | list[str],
    lifetime_s: int = 300,
    now: float | None = None,
    claims: Mapping[str, Any] | None = None,
    header: Mapping[str, Any] | None = None,
) -> str:
    """A client JWT as an EHR sends it: ``iss``, ``aud``, ``exp``, ``iat``, a fresh ``jti``."""
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime_s,
        "jti": str(uuid.uuid4()),
        **(claims or {}),
    }
    head = {"alg": signing.alg, "typ": "JWT", "kid": signing.kid, **(header or {})}
    return jwt.encode(head, payload, signing.key, algorithms=[signing.alg])
