"""``GET /cds-services``: the discovery document."""

from __future__ import annotations

from flask import Blueprint
from flask import Response

from cds_server.api.responses import json_response
from cds_server.state import get_state

bp = Blueprint("discovery", __name__)


@bp.get("/cds-services")
def discovery() -> Response:
    return json_response(get_state().registry.discovery())
