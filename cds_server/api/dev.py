"""``GET /demo/token?url=...``: a development-client JWT for one of this server's URLs (demo page).

It exists only while ``CDS_DEV_CLIENT`` is on, answers only callers on the loopback interface (the
demo page in a browser on the same machine) or in ``CDS_DEMO_TOKEN_NETWORKS`` (the Docker bridge of the
compose stack, whose port mapping hides the browser's loopback address), and signs only for URLs
under ``CDS_PUBLIC_BASE_URL``: otherwise 404, so it is no token vending machine for the network.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from flask import Blueprint
from flask import Response
from flask import request

from cds_server.api.responses import json_response
from cds_server.auth.devclient import DEV_ISSUER
from cds_server.auth.devclient import ensure_dev_key
from cds_server.auth.devclient import mint_token
from cds_server.errors import NotFound
from cds_server.state import get_state

bp = Blueprint("dev", __name__)

#: a demo call is made right after the token is fetched
DEV_TOKEN_LIFETIME_S = 120


@bp.get("/demo/token")
def token() -> Response:
    settings = get_state().settings
    url = request.args.get("url", "")
    if (
        not settings.dev_client
        or not _may_ask(request.remote_addr, settings.demo_token_networks)
        or not _ours(url, settings.public_base_url)
    ):
        raise NotFound()
    signing = ensure_dev_key(Path(settings.dev_client_dir))
    return json_response(
        {"token": mint_token(signing, issuer=DEV_ISSUER, audience=url, lifetime_s=DEV_TOKEN_LIFETIME_S)}
    )


def _may_ask(address: str | None, networks: tuple[str, ...]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return ip.is_loopback or any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def _ours(url: str, base: str) -> bool:
    return url == base or url.startswith(base + "/")
