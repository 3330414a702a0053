"""Client authentication at the HTTP edge: which routes need a client JWT, and for which ``aud``.

Discovery (unless ``CDS_DISCOVERY_REQUIRES_AUTH=false``), service calls and feedback need a bearer JWT
from a registered client; ``aud`` must be the exact public URL of the endpoint called, built from
``CDS_PUBLIC_BASE_URL`` (never from the ``Host`` header, which a proxy or an attacker sets). ``OPTIONS``
preflights, health, model pages and static files stay open; admin endpoints have their own credential.
"""

from __future__ import annotations

from flask import Flask
from flask import g
from flask import request

from cds_server.auth.authenticator import CallSite
from cds_server.auth.clients import TrustedClient
from cds_server.errors import AuthenticationFailed
from cds_server.hooks.decisions import ClientIdentity
from cds_server.state import get_state

#: endpoint → the name the security log uses for it
PROTECTED_ENDPOINTS = {
    "discovery.discovery": "discovery",
    "services.call_service": "service",
    "feedback.post_feedback": "feedback",
    # jobs belong to the client that submitted them (the signed result page ``jobs.view`` is not here)
    "jobs.submit": "jobs",
    "jobs.get_job": "jobs",
    "jobs.cancel_job": "jobs",
    "jobs.results": "jobs",
}


def install_authentication(app: Flask) -> None:
    app.before_request(_authenticate)


def _authenticate() -> None:
    endpoint = request.endpoint
    if request.method == "OPTIONS" or endpoint not in PROTECTED_ENDPOINTS:
        return
    state = get_state()
    authorization = request.headers.get("Authorization")
    if (
        endpoint == "discovery.discovery"
        and authorization is None
        and not state.settings.discovery_requires_auth
    ):
        return
    site = call_site(PROTECTED_ENDPOINTS[endpoint])
    verified = state.auth.authenticate(authorization, site)
    g.client = verified.identity
    g.trusted_client = verified.client
    state.auth.check_rate(verified)


def call_site(endpoint: str) -> CallSite:
    return CallSite(
        audience=get_state().settings.public_base_url + request.path,
        endpoint=endpoint,
        request_id=g.request_id,
        source_ip=request.remote_addr,
    )


def authenticated_client() -> tuple[ClientIdentity, TrustedClient]:
    """The client :func:`_authenticate` verified for this call.

    :raise AuthenticationFailed: none was (a route that forgot to be protected fails closed).
    """
    client, trusted = g.get("client"), g.get("trusted_client")
    if not isinstance(client, ClientIdentity) or not isinstance(trusted, TrustedClient):
        raise AuthenticationFailed("route not protected")
    return client, trusted
