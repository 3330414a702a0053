"""``POST /cds-services/{id}/feedback``: parse, store, answer. The same 200 whatever was stored.

The body of a 200 says how many items were received, never how many matched a card: an unknown card
and another client's card must be indistinguishable (see :mod:`cds_server.persistence.feedback`).
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import g
from flask import request

from cds_server.api.auth import authenticated_client
from cds_server.api.body import read_json_body
from cds_server.api.metrics import count_feedback_items
from cds_server.api.responses import json_response
from cds_server.hooks.feedback import parse_feedback
from cds_server.state import get_state

bp = Blueprint("feedback", __name__)


@bp.post("/cds-services/<service_id>/feedback")
def post_feedback(service_id: str) -> Response:
    state = get_state()
    client, _ = authenticated_client()
    items = parse_feedback(read_json_body(request), now=g.now, limits=state.feedback_limits)
    state.feedback.record(
        client=client,
        service_id=service_id,
        items=items,
        request_id=g.request_id,
    )
    count_feedback_items(service_id, [item.outcome for item in items])
    return json_response({"received": len(items)})
