"""The benchmark's EHR: a registered client that signs its JWTs with RS384, as Epic does.

Both the in-process and the HTTP benchmarks verify these tokens for real (signature, claims, replay
store); only the minting happens outside the timed loop, since each ``jti`` is accepted once.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
import uuid
from pathlib import Path

import yaml
from joserfc import jwt
from joserfc.jwk import RSAKey

ISSUER = "urn:cds-server:bench-ehr"
KID = "bench-rs384"


class BenchClient:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": KID, "alg": "RS384", "use": "sig"})

    def write_clients_file(self, folder: Path) -> Path:
        """A ``CDS_CLIENTS_FILE`` registering this client, with no rate limit in a benchmark's way."""
        path = folder / "clients.yaml"
        spec = {
            "issuer": ISSUER,
            "jwks": {"keys": [self.key.as_dict(private=False)]},
            "algorithms": ["RS384"],
            "rate_limit_per_s": 100000,
            "rate_limit_burst": 100000,
        }
        path.write_text(yaml.safe_dump({"clients": [spec]}))
        return path

    def mint(self, audience: str, count: int) -> list[str]:
        """``count`` tokens for ``audience`` (the service's URL), minted on two processes."""
        key_json = json.dumps(self.key.as_dict(private=True))
        chunks = [min(2000, count - i) for i in range(0, count, 2000)]
        with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
            parts = pool.map(_mint, [(key_json, audience, n) for n in chunks])
            return [token for part in parts for token in part]


def _mint(args: tuple[str, str, int]) -> list[str]:
    key_json, audience, count = args
    key = RSAKey.import_key(json.loads(key_json))
    now = int(time.time())
    header = {"alg": "RS384", "typ": "JWT", "kid": KID}
    claims = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 3000}
    return [
        jwt.encode(header, dict(claims, jti=uuid.uuid4().hex), key, algorithms=["RS384"])
        for _ in range(count)
    ]
