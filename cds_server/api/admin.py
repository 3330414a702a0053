"""Admin endpoints: audit export, feedback analytics, model reload, trusted clients, security events.

``GET /audit`` (FHIR AuditEvent Bundle), ``GET /analytics/feedback``, ``POST /admin/models/reload``,
``GET /admin/clients`` and ``GET /admin/security-events``. They are an operator's, not an EHR's, so
they take a separate credential: one bearer token, ``CDS_ADMIN_TOKEN``, compared in constant time (an
EHR client JWT does not open them). Without it configured the endpoints do not exist (404), so a
default install exposes no audit trail. A wrong or missing token gets the same 401 as any
authentication failure, and a security event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime

from flask import Blueprint
from flask import Response
from flask import request
from sqlalchemy import select

from cds_server.api.auth import call_site
from cds_server.api.responses import json_response
from cds_server.auth.verify import TokenRejected
from cds_server.errors import AuthenticationFailed
from cds_server.errors import BadRequest
from cds_server.errors import NotFound
from cds_server.hooks.feedback import parse_instant
from cds_server.persistence.analytics import feedback_rates
from cds_server.persistence.audit_export import DEFAULT_PAGE
from cds_server.persistence.audit_export import MAX_PAGE
from cds_server.persistence.audit_export import AuditQuery
from cds_server.persistence.audit_export import export_audit
from cds_server.persistence.audit_export import instant
from cds_server.persistence.models import SecurityEvent
from cds_server.state import get_state

bp = Blueprint("admin", __name__)

FHIR_JSON = "application/fhir+json; charset=utf-8"
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@bp.get("/audit")
def audit() -> Response:
    state = get_state()
    require_admin(state.settings.admin_token)
    query = AuditQuery(
        since=parse_time(request.args, "since"),
        until=parse_time(request.args, "until"),
        patient=_patient(request.args),
        count=_integer(request.args, "_count", low=1, high=MAX_PAGE) or DEFAULT_PAGE,
        cursor=_integer(request.args, "_cursor", low=0),
    )
    bundle = export_audit(state.database, query, base_url=state.settings.public_base_url)
    return json_response(bundle, headers={"Content-Type": FHIR_JSON})


@bp.get("/analytics/feedback")
def analytics_feedback() -> Response:
    state = get_state()
    require_admin(state.settings.admin_token)
    since, until = parse_time(request.args, "since"), parse_time(request.args, "until")
    service = request.args.get("service")
    groups = feedback_rates(state.database, since=since, until=until, service_id=service)
    return json_response(
        {
            "since": instant(since) if since else None,
            "until": instant(until) if until else None,
            "groups": [group.as_json() for group in groups],
        }
    )


@bp.post("/admin/models/reload")
def reload_models() -> Response:
    """Re-read the model repository in this worker process (each gunicorn worker holds its own models)."""
    state = get_state()
    require_admin(state.settings.admin_token)
    report = state.models.reload()
    return json_response(
        {
            "ok": report.ok,
            "loaded": list(report.loaded),
            "unchanged": list(report.unchanged),
            "keptPrevious": dict(report.kept_previous),
            "notReady": dict(report.not_ready),
            "removed": list(report.removed),
        },
        200 if report.ok else 409,
    )


@bp.get("/admin/clients")
def clients() -> Response:
    """The trusted clients as the server sees them (no key material)."""
    state = get_state()
    require_admin(state.settings.admin_token)
    listing = [
        {
            "issuer": client.issuer,
            "source": client.source,
            "keys": "jwks_url" if client.jwks_url else "inline",
            "jwksUrl": client.jwks_url,
            "kids": sorted(client.keys) if client.keys is not None else None,
            "algorithms": sorted(client.algorithms),
            "tenants": sorted(client.tenants),
            "fhirServers": sorted(client.fhir_policy.allowed) if client.fhir_policy else None,
            "cardLinkHosts": sorted(client.card_link_hosts),
            "developmentOnly": client.development_only,
        }
        for client in state.auth.registry.clients()
    ]
    return json_response({"clients": listing})


@bp.get("/admin/security-events")
def security_events() -> Response:
    """Refused authentications, newest first (``since``, ``_count``)."""
    state = get_state()
    require_admin(state.settings.admin_token)
    since = parse_time(request.args, "since")
    count = _integer(request.args, "_count", low=1, high=MAX_PAGE) or DEFAULT_PAGE
    query = select(SecurityEvent).order_by(SecurityEvent.id.desc()).limit(count)
    if since is not None:
        query = query.where(SecurityEvent.recorded_at >= since)
    with state.database.read() as session:
        rows = session.execute(query).scalars().all()
    return json_response(
        {
            "events": [
                {
                    "recorded": instant(row.recorded_at),
                    "requestId": row.request_id,
                    "kind": row.kind,
                    "reason": row.reason,
                    "endpoint": row.endpoint,
                    "issuer": row.issuer,
                    "claimedIssuerSha256": row.claimed_issuer_sha256,
                    "kid": row.kid,
                    "jtiSha256": row.jti_sha256,
                    "sourceIp": row.source_ip,
                    "suppressedBefore": row.suppressed,
                }
                for row in rows
            ]
        }
    )


def require_admin(token: str, *, browser: bool = False) -> None:
    """Let the operator's credential through: ``Bearer <CDS_ADMIN_TOKEN>``; for pages (``browser``) also
    HTTP Basic with the token as the password (any user name), which is what a browser can send.

    :raise NotFound: no admin token is configured (the admin endpoints do not exist).
    :raise AuthenticationFailed: missing or wrong; with ``browser``, the challenge asks for Basic, so
        the browser prompts for it.
    """
    if not token:
        raise NotFound()
    # digests first: compare_digest leaks the length of its inputs, the digests' length is fixed
    expected = hashlib.sha256(token.encode()).digest()
    presented = _presented(request.headers.get("Authorization", ""), basic=browser)
    given = hashlib.sha256(presented.encode()).digest()
    if not hmac.compare_digest(expected, given):
        get_state().auth.refused(TokenRejected("admin-token-wrong"), call_site("admin"), kind="admin")
        raise (
            AdminPageAuthenticationFailed()
            if browser
            else AuthenticationFailed("admin token missing or wrong")
        )


class AdminPageAuthenticationFailed(AuthenticationFailed):
    """The same 401 as every other, but asking a browser for Basic credentials."""

    def __init__(self) -> None:
        super().__init__("admin token missing or wrong")

    def headers(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": 'Basic realm="cds-server admin", charset="UTF-8"'}


def _presented(authorization: str, *, basic: bool) -> str:
    """The credential in an ``Authorization`` header; an empty string when there is none."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def parse_time(args: Mapping[str, str], name: str) -> datetime | None:
    value = args.get(name)
    if value is None:
        return None
    try:
        if _DATE.match(value):
            return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
        return parse_instant(value)
    except ValueError:
        raise BadRequest(f"Query parameter '{name}' must be a date or an RFC 3339 date-time.") from None


def _patient(args: Mapping[str, str]) -> str | None:
    value = args.get("patient")
    if value is None:
        return None
    patient_id = value.removeprefix("Patient/")
    if not _FHIR_ID.match(patient_id):
        raise BadRequest("Query parameter 'patient' must be a FHIR id or 'Patient/{id}'.")
    return f"Patient/{patient_id}"


def _integer(args: Mapping[str, str], name: str, *, low: int, high: int | None = None) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise BadRequest(f"Query parameter '{name}' must be a whole number {bounds}.")
    return int(value)
