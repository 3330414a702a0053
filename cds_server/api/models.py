"""``GET /models`` and ``GET /models/{id}``: model cards, machine-readable and as the page cards link to."""

from __future__ import annotations

import itertools
from typing import Any

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from cds_server.api.responses import json_response
from cds_server.errors import NotFound
from cds_server.inference import UnknownModel
from cds_server.state import get_state

bp = Blueprint("models", __name__)


@bp.get("/models")
def list_models() -> Response:
    state = get_state()
    models = []
    for model_id, status in sorted(state.models.status().items()):
        card = state.models.card(model_id)
        models.append({"id": model_id, "name": card.name, "version": card.version, "status": _status(status)})
    return json_response({"models": models})


@bp.get("/models/<model_id>")
def model(model_id: str) -> Response:
    """The model card; an HTML page for browsers (``Accept: text/html`` or ``?format=html``)."""
    state = get_state()
    try:
        card = state.models.card(model_id)
    except UnknownModel:
        raise NotFound("No model with this id.") from None
    status = state.models.status()[model_id]
    if _wants_html():
        attributes = card.source_attributes()
        grouped = [
            (category, list(items))
            for category, items in itertools.groupby(attributes, key=lambda a: a.category)
        ]
        page = render_template(
            "model_card.html", card=card, doc=card.as_dict(), status=status, attributes_by_category=grouped
        )
        return Response(page, content_type="text/html; charset=utf-8")
    return json_response({"status": _status(status), "card": card.as_dict()})


def _wants_html() -> bool:
    requested = request.args.get("format")
    if requested:
        return requested == "html"
    best = request.accept_mimetypes.best_match(["application/json", "text/html"], default="application/json")
    return best == "text/html"


def _status(status: Any) -> dict[str, Any]:
    return {
        "ready": status.ready,
        "activeVersion": status.active_version,
        "provider": status.provider,
        "sha256": status.sha256,
        "reason": status.reason,
        "shadow": [shadow.as_dict() for shadow in status.shadow],
    }
