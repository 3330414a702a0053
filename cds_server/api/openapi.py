"""``GET /openapi.json``: the OpenAPI 3.1 description of the whole HTTP API.

Request and response schemas of the CDS Hooks envelope come from the pydantic models that validate
them, so the document cannot drift from the code; the rest is declared here. A test checks that every
Flask route is documented and every documented path exists.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Blueprint
from flask import Response

from cds_server import __version__
from cds_server.api.openapi_parts import html as _html
from cds_server.api.openapi_parts import json_body as _json
from cds_server.api.openapi_parts import operation as _operation
from cds_server.api.openapi_parts import operator_paths
from cds_server.api.openapi_parts import path_parameter as _path_parameter
from cds_server.api.openapi_parts import query as _query
from cds_server.api.openapi_parts import ref as _ref
from cds_server.api.responses import json_response
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.request import HookRequest
from cds_server.state import get_state

bp = Blueprint("openapi", __name__)

_REF = "#/components/schemas/{model}"


@bp.get("/openapi.json")
def document() -> Response:
    settings = get_state().settings
    return json_response(openapi_document(settings.public_base_url))


@functools.cache
def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cds-server",
            "version": __version__,
            "description": "CDS Hooks 2.0 services backed by ONNX models. Non-2xx bodies are FHIR "
            "OperationOutcome resources with a stable code under `urn:cds-server:error-code`.",
        },
        "servers": [{"url": base_url}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": _security_schemes(),
            "responses": _responses(),
        },
    }


def _security_schemes() -> dict[str, Any]:
    return {
        "ehrJwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT signed by a registered EHR client (ES384 or RS384 by default) with `iss`, "
            "`aud` = the exact URL called, `exp`, `iat` and a fresh `jti`; see docs/security.md.",
        },
        "adminToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator's `CDS_ADMIN_TOKEN` (404 while it is not configured).",
        },
    }


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in (HookRequest, HookResponse):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    schemas.update(
        {
            "OperationOutcome": {
                "type": "object",
                "required": ["resourceType", "issue"],
                "properties": {
                    "resourceType": {"const": "OperationOutcome"},
                    "issue": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["severity", "code"],
                            "properties": {
                                "severity": {"enum": ["fatal", "error", "warning", "information"]},
                                "code": {"type": "string"},
                                "details": {"type": "object"},
                            },
                        },
                    },
                },
            },
            "Discovery": {
                "type": "object",
                "required": ["services"],
                "properties": {
                    "services": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["hook", "description", "id"],
                            "properties": {
                                "id": {"type": "string"},
                                "hook": {"type": "string"},
                                "title": {"type": "string"},
                                "description": {"type": "string"},
                                "prefetch": {"type": "object", "additionalProperties": {"type": "string"}},
                                "usageRequirements": {"type": "string"},
                            },
                        },
                    }
                },
            },
            "FeedbackRequest": {
                "type": "object",
                "required": ["feedback"],
                "properties": {
                    "feedback": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["card", "outcome", "outcomeTimestamp"],
                            "properties": {
                                "card": {"type": "string"},
                                "outcome": {"enum": ["accepted", "overridden"]},
                                "outcomeTimestamp": {"type": "string", "format": "date-time"},
                                "acceptedSuggestions": {"type": "array", "items": {"type": "object"}},
                                "overrideReason": {"type": "object"},
                            },
                        },
                    }
                },
            },
            "FeedbackReceived": {
                "type": "object",
                "required": ["received"],
                "properties": {"received": {"type": "integer", "minimum": 0}},
            },
            "JsonObject": {"type": "object"},
            "JobRequest": {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"type": "string"}, "params": {"type": "object"}},
                "additionalProperties": False,
            },
        }
    )
    return schemas


def _responses() -> dict[str, Any]:
    def outcome(description: str, more: dict[str, str] | None = None) -> dict[str, Any]:
        headers = more or {}
        response = _json("OperationOutcome", description)
        if headers:
            response["headers"] = {
                name: {"schema": {"type": "string"}, "description": text} for name, text in headers.items()
            }
        return response

    return {
        "BadRequest": outcome("The request is not valid (body, JSON, parameters)."),
        "Unauthorized": outcome(
            "Authentication failed; the body is the same for every cause.",
            more={"WWW-Authenticate": "Bearer"},
        ),
        "NotFound": outcome(
            "Nothing here (unknown service, model, job; admin endpoints when not configured)."
        ),
        "PayloadTooLarge": outcome("The body is larger than the server accepts."),
        "UnsupportedMediaType": outcome("The body is not JSON."),
        "RateLimited": outcome("Too many calls from this client.", more={"Retry-After": "seconds"}),
        "Unavailable": outcome(
            "A dependency is down (audit store, replay store, model).", more={"Retry-After": "seconds"}
        ),
    }


_EHR_ERRORS = (
    "BadRequest",
    "Unauthorized",
    "NotFound",
    "PayloadTooLarge",
    "UnsupportedMediaType",
    "RateLimited",
    "Unavailable",
)
_ADMIN_ERRORS = ("BadRequest", "Unauthorized", "NotFound", "Unavailable")
_PAGE = "an HTML page"


def _paths() -> dict[str, Any]:
    service_id = _path_parameter("id", "The service id from discovery.")
    job_id = _path_parameter("job_id", "The job id returned by POST /jobs.")
    since = _query("since", "A date (YYYY-MM-DD) or RFC 3339 date-time.")
    count = _query("_count", "Page size.", {"type": "integer", "minimum": 1})
    return {
        "/cds-services": {
            "get": _operation(
                "CDS Hooks discovery",
                _json("Discovery", "The services."),
                security="ehrJwt",
                errors=("Unauthorized", "RateLimited", "Unavailable"),
            ),
        },
        "/cds-services/{id}": {
            "post": _operation(
                "Call a CDS service (a hook fired)",
                _json("HookResponse", "Cards."),
                security="ehrJwt",
                body="HookRequest",
                errors=_EHR_ERRORS,
                parameters=[service_id],
                more={"412": _json("OperationOutcome", "Required FHIR data could not be obtained.")},
            ),
        },
        "/cds-services/{id}/feedback": {
            "post": _operation(
                "Feedback on cards",
                _json("FeedbackReceived", "Received."),
                security="ehrJwt",
                body="FeedbackRequest",
                errors=_EHR_ERRORS,
                parameters=[service_id],
            ),
        },
        "/audit": {
            "get": _operation(
                "Audit trail as a FHIR AuditEvent Bundle",
                _json("JsonObject", "A searchset Bundle."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                parameters=[
                    since,
                    _query("until", "End of the period."),
                    _query("patient", "Patient/{id}"),
                    count,
                    _query("_cursor", "Paging cursor.", {"type": "integer", "minimum": 0}),
                ],
            ),
        },
        "/analytics/feedback": {
            "get": _operation(
                "Acceptance and override rates",
                _json("JsonObject", "Rates per group."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                parameters=[since, _query("until", "End of the period."), _query("service", "Service id.")],
            ),
        },
        "/admin/models/reload": {
            "post": _operation(
                "Reload the model repository (this worker)",
                _json("JsonObject", "What was reloaded."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                more={"409": _json("JsonObject", "Some models kept their previous version.")},
            ),
        },
        "/admin/clients": {
            "get": _operation(
                "Trusted EHR clients",
                _json("JsonObject", "The clients, without keys."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
            ),
        },
        "/admin/security-events": {
            "get": _operation(
                "Refused authentications",
                _json("JsonObject", "Newest first."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                parameters=[since, count],
            ),
        },
        "/models": {"get": _operation("Deployed models", _json("JsonObject", "Models and their status."))},
        "/models/{model_id}": {
            "get": _operation(
                "A model card (JSON, or HTML for browsers)",
                _json("JsonObject", "The model card."),
                errors=("NotFound",),
                parameters=[
                    _path_parameter("model_id", "Model id."),
                    _query("format", "`html` for the page.", {"enum": ["json", "html"]}),
                ],
            ),
        },
        "/healthz": {"get": _operation("The process answers", _json("JsonObject", "ok"))},
        "/readyz": {
            "get": _operation(
                "Database and models ready", _json("JsonObject", "Checks."), errors=("Unavailable",)
            )
        },
        "/openapi.json": {"get": _operation("This document", _json("JsonObject", "OpenAPI 3.1."))},
        "/jobs": {
            "post": _operation(
                "Submit a diagnostic job",
                _json("JsonObject", "The job."),
                security="ehrJwt",
                body="JobRequest",
                errors=_EHR_ERRORS,
                more={"202": _json("JsonObject", "Accepted; poll the Location.")},
            ),
        },
        "/jobs/{job_id}": {
            "get": _operation(
                "A job's state",
                _json("JsonObject", "The job."),
                security="ehrJwt",
                errors=_EHR_ERRORS,
                parameters=[job_id],
            ),
            "delete": _operation(
                "Cancel a job",
                _json("JsonObject", "The job."),
                security="ehrJwt",
                errors=_EHR_ERRORS,
                parameters=[job_id],
                more={"409": _json("OperationOutcome", "Already finished.")},
            ),
        },
        "/jobs/{job_id}/results": {
            "get": _operation(
                "A job's results (JSON, CSV or NDJSON)",
                _json("JsonObject", "Results."),
                security="ehrJwt",
                errors=_EHR_ERRORS,
                parameters=[job_id, _query("format", "json, csv or ndjson.")],
            ),
        },
        "/jobs/{job_id}/view": {
            "get": _operation(
                "A job's result page (signed link from a card)",
                _html(_PAGE),
                errors=("NotFound",),
                parameters=[job_id, _query("sig", "The link's signature."), _query("exp", "Expiry.")],
            ),
        },
        "/demo": {"get": _operation("The demo chart (a pretend EHR)", _html(_PAGE))},
        "/demo/patients": {"get": _operation("Demo patients", _json("JsonObject", "The list."))},
        "/demo/patients/{patient_id}": {
            "get": _operation(
                "A demo patient's summary",
                _json("JsonObject", "Summary."),
                errors=("NotFound",),
                parameters=[_path_parameter("patient_id", "Demo patient id.")],
            ),
        },
        "/demo/patients/{patient_id}/request": {
            "get": _operation(
                "The hook request an EHR would send",
                _json("HookRequest", "A request body."),
                errors=("BadRequest", "NotFound"),
                parameters=[
                    _path_parameter("patient_id", "Demo patient id."),
                    _query("service", "Service id."),
                    _query("hook", "Hook."),
                    _query(
                        "drug",
                        "Draft order (RxNorm code of a demo drug; repeat it, the selected one first).",
                    ),
                ],
            ),
        },
        "/demo/token": {
            "get": _operation(
                "A development-client JWT for one of this server's URLs (development, loopback only)",
                _json("JsonObject", '`{"token": ...}`'),
                errors=("NotFound",),
                parameters=[_query("url", "The exact URL the token is for.")],
            ),
        },
        **operator_paths(),
        "/static/{filename}": {
            "get": {
                "summary": "Static files of the pages",
                "parameters": [_path_parameter("filename", "File.")],
                "responses": {"200": {"description": "The file."}, "404": _ref("NotFound")},
            },
        },
    }
