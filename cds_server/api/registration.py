"""``GET /docs/registration`` (page), ``.json`` and ``.md``: the registration sheet of every service.

Open like ``/openapi.json`` and the model pages: it holds what an integrator needs before holding a
registered key (service URLs, prefetch, JWT expectations), and nothing secret.
"""

from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import render_template

from cds_server.api.responses import json_response
from cds_server.registration.markdown import sheet_markdown
from cds_server.registration.sheet import build_sheet
from cds_server.state import get_state

bp = Blueprint("registration", __name__, url_prefix="/docs")


@bp.get("/registration")
def page() -> Response:
    sheet = _sheet()
    return Response(
        render_template("registration.html", sheet=sheet), content_type="text/html; charset=utf-8"
    )


@bp.get("/registration.json")
def data() -> Response:
    return json_response(_sheet())


@bp.get("/registration.md")
def markdown() -> Response:
    return Response(sheet_markdown(_sheet()), content_type="text/markdown; charset=utf-8")


def _sheet() -> dict[str, object]:
    state = get_state()
    return build_sheet(state.registry, state.settings)
