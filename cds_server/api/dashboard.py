"""``GET /dashboard`` (a page) and ``GET /dashboard.json``: what the server has been doing, for operators.

Behind ``CDS_ADMIN_TOKEN`` like the other admin endpoints (404 while it is unset): the page shows no
PHI, but call volumes, override rates and input distributions are an operator's business. A browser
cannot send a bearer token to a page, so the page also takes HTTP Basic with the token as the
password and asks for it. The window is ``?hours=N`` (1 to 2160, default 24) ending now, or
``?since=&until=`` (dates or RFC 3339 date-times).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from cds_server.api.admin import parse_time
from cds_server.api.admin import require_admin
from cds_server.api.responses import json_response
from cds_server.errors import BadRequest
from cds_server.state import get_state
from cds_server.web.dashboard import build_dashboard
from cds_server.web.dashboard_view import dashboard_view

bp = Blueprint("dashboard", __name__)

DEFAULT_HOURS = 24
MAX_HOURS = 90 * 24
#: the window choices linked from the page
WINDOWS = {"1 hour": 1, "24 hours": 24, "7 days": 168, "30 days": 720, "90 days": 2160}


@bp.get("/dashboard")
def page() -> Response:
    state = get_state()
    require_admin(state.settings.admin_token, browser=True)
    since, until = _window()
    dashboard = build_dashboard(state.database, state.models, since=since, until=until)
    html = render_template("dashboard.html", view=dashboard_view(dashboard), windows=WINDOWS)
    return Response(html, content_type="text/html; charset=utf-8")


@bp.get("/dashboard.json")
def data() -> Response:
    state = get_state()
    require_admin(state.settings.admin_token, browser=True)
    since, until = _window()
    return json_response(build_dashboard(state.database, state.models, since=since, until=until).as_json())


def _window() -> tuple[datetime, datetime]:
    args = request.args
    if "since" in args or "until" in args:
        until = parse_time(args, "until") or datetime.now(UTC)
        since = parse_time(args, "since") or until - timedelta(hours=DEFAULT_HOURS)
        if not since < until or until - since > timedelta(hours=MAX_HOURS):
            raise BadRequest(f"'since' must be before 'until', at most {MAX_HOURS // 24} days apart.")
        return since, until
    hours = args.get("hours", str(DEFAULT_HOURS))
    if not hours.isdigit() or not 1 <= int(hours) <= MAX_HOURS:
        raise BadRequest(f"Query parameter 'hours' must be a whole number from 1 to {MAX_HOURS}.")
    until = datetime.now(UTC)
    return until - timedelta(hours=int(hours)), until
