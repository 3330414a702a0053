"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: database and models)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response

from cds_server.api.responses import json_response
from cds_server.state import get_state

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the database answers and every model is loaded; says why not, per dependency.

    A model that is not ready makes only its own services answer 503, so the server as a whole stays
    ready: readiness reports it as ``degraded`` rather than taking the other services out.
    """
    state = get_state()
    checks: dict[str, Any] = {"database": state.database.ping()}
    models = {
        model_id: {"ready": s.ready, "version": s.active_version, "provider": s.provider, "reason": s.reason}
        for model_id, s in state.models.status().items()
    }
    checks["models"] = models
    database_ok = checks["database"]["ok"]
    all_models = all(item["ready"] for item in models.values())
    status = "ready" if database_ok and all_models else "degraded" if database_ok else "not-ready"
    return json_response({"status": status, "checks": checks}, 200 if database_ok else 503)
