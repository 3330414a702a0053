"""``/healthz`` (the process answers) and ``/readyz`` (it can do its work: database, models, job broker)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import Response

from cds_server.api.responses import json_response
from cds_server.state import get_state
from cds_server.tasks.broker_check import broker_status

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response:
    """Ready when the database answers, every model is loaded and the job broker answers; says why not,
    per dependency.

    A model that is not ready makes only its own services answer 503, and a broker outage only delays
    jobs (they wait in the outbox), so the server as a whole stays ready: readiness reports either as
    ``degraded`` rather than taking the services out. Without the database nothing can be audited:
    ``not-ready`` (503).
    """
    state = get_state()
    checks: dict[str, Any] = {"database": state.database.ping(), "broker": broker_status(state.settings)}
    models = {
        model_id: {"ready": s.ready, "version": s.active_version, "provider": s.provider, "reason": s.reason}
        for model_id, s in state.models.status().items()
    }
    checks["models"] = models
    database_ok = checks["database"]["ok"]
    all_models = all(item["ready"] for item in models.values())
    healthy = database_ok and all_models and checks["broker"]["ok"]
    status = "ready" if healthy else "degraded" if database_ok else "not-ready"
    return json_response({"status": status, "checks": checks}, 200 if database_ok else 503)
