"""``POST /cds-services/{id}``: parse, hand to the pipeline, serialise (and count the cards)."""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from cds_server.api.auth import authenticated_client
from cds_server.api.body import read_json_body
from cds_server.api.metrics import count_cards
from cds_server.api.metrics import note_hook
from cds_server.api.responses import json_response
from cds_server.hooks.pipeline import CallContext
from cds_server.hooks.pipeline import handle_hook
from cds_server.state import get_state

bp = Blueprint("services", __name__)


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    state = get_state()
    client, trusted = authenticated_client()
    body = read_json_body(request)
    note_hook(body)
    call = CallContext(
        request_id=g.request_id,
        client=client,
        now=g.now,
        received=g.received,
        deadline=g.received + state.settings.request_deadline_s,
        link_hosts=state.link_hosts(trusted),
    )
    result = handle_hook(service_id, body, state.pipeline_deps(received=g.received, client=trusted), call)
    count_cards(service_id, result.response)
    return json_response(result.response.to_wire())
