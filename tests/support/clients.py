"""Acting as a given EHR client before the Security issue authenticates real ones.

The server reads the calling client from ``flask.g.client``; until client JWTs are verified nothing
sets it and every call is :meth:`ClientIdentity.anonymous`. :func:`identify_clients_by_header` makes
an app take the client from test-only headers, so tests can call as two different clients.
"""

from __future__ import annotations

from flask import Flask
from flask import g
from flask import request

from cds_server.hooks.decisions import ClientIdentity

ISSUER_HEADER = "X-Test-Client-Issuer"
TENANT_HEADER = "X-Test-Client-Tenant"
JTI_HEADER = "X-Test-Client-Jti"


def identify_clients_by_header(app: Flask) -> Flask:
    def identify() -> None:
        issuer = request.headers.get(ISSUER_HEADER)
        if issuer:
            g.client = ClientIdentity(
                issuer=issuer,
                subject="test-client-id",
                tenant=request.headers.get(TENANT_HEADER),
                token_id=request.headers.get(JTI_HEADER),
            )

    app.before_request(identify)
    return app


def as_client(issuer: str, *, tenant: str | None = None, jti: str | None = None) -> dict[str, str]:
    headers = {ISSUER_HEADER: issuer}
    if tenant:
        headers[TENANT_HEADER] = tenant
    if jti:
        headers[JTI_HEADER] = jti
    return headers
