"""Trusting the public CDS Hooks Sandbox (``CDS_TRUST_CDS_HOOKS_SANDBOX=true``), development only.

The sandbox signs with ES384 and a key pair committed to its public repository, so anyone can mint
"sandbox" tokens: never turn this on where real data is. Its public key ships with this package
(``cds-hooks-sandbox-jwks.json``, Apache-2.0, source noted in the file); the ``jku`` it sends points to
the internet and is accepted as a name only, never fetched. Its ``iat`` is rounded and can lie half
a second in the future, hence a leeway of at least 5 s.
"""

from __future__ import annotations

import json
from pathlib import Path

from cds_server.auth.clients import ClientSpec

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_JWKS_FILE = Path(__file__).with_name("cds-hooks-sandbox-jwks.json")
SANDBOX_LEEWAY_S = 5


def sandbox_spec() -> ClientSpec:
    document = json.loads(SANDBOX_JWKS_FILE.read_text())
    return ClientSpec(
        issuer=SANDBOX_ISSUER,
        jwks={"keys": document["keys"]},
        jku=SANDBOX_JKU,
        algorithms=("ES384",),
        leeway_s=SANDBOX_LEEWAY_S,
    )
