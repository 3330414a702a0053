"""What every response gets: request id, security headers, CORS from the configured allow-list.

CORS is answered on every route, errors included, and ``OPTIONS`` preflights need no credentials
(browsers never send them on a preflight; the CDS Hooks Sandbox preflights every call).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import UTC
from datetime import datetime

from flask import Flask
from flask import Response
from flask import g
from flask import request

from cds_server.state import get_state

_REQUEST_ID = re.compile(r"^[A-Za-z0-9\-._]{1,64}$")
CORS_ALLOW_HEADERS = "Authorization, Content-Type"
CORS_EXPOSE_HEADERS = "X-Request-ID, Retry-After, Location"


def install_http_hooks(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)


def _start() -> None:
    g.received = time.monotonic()
    g.now = get_state().settings.fixed_now or datetime.now(UTC)
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _finish(response: Response) -> Response:
    response.headers["X-Request-ID"] = getattr(g, "request_id", "") or uuid.uuid4().hex
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    _apply_cors(response)
    return response


def _apply_cors(response: Response) -> None:
    origin = request.headers.get("Origin")
    if not origin:
        return
    allowed = get_state().settings.cors_origins
    response.vary.add("Origin")
    if "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
    elif origin in allowed:
        response.headers["Access-Control-Allow-Origin"] = origin
    else:
        return
    response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = response.headers.get("Allow", "GET, POST, OPTIONS")
        response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
