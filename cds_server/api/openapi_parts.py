"""Building blocks of the OpenAPI document, and the paths of the operator and integrator pages.

Split from :mod:`cds_server.api.openapi` to keep each module small; the test that every route is
documented covers both.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
_ADMIN_ERRORS = ("BadRequest", "Unauthorized", "NotFound", "Unavailable")


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def json_body(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def operation(
    summary: str,
    ok: dict[str, Any],
    *,
    security: str | None = None,
    body: str | None = None,
    errors: tuple[str, ...] = (),
    parameters: list[dict[str, Any]] | None = None,
    more: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **(more or {})}}
    codes = {
        "BadRequest": "400",
        "Unauthorized": "401",
        "NotFound": "404",
        "PayloadTooLarge": "413",
        "UnsupportedMediaType": "415",
        "RateLimited": "429",
        "Unavailable": "503",
    }
    for name in errors:
        operation["responses"][codes[name]] = ref(name)
    if security:
        operation["security"] = [{security: []}]
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    if parameters:
        operation["parameters"] = parameters
    return operation


def path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema or {"type": "string"},
        "description": description,
    }


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def operator_paths() -> dict[str, Any]:
    """``/metrics``, the dashboard and the registration sheet."""
    window = [
        query("hours", "Window ending now, in hours (1 to 2160, default 24).", {"type": "integer"}),
        query("since", "Start of the window: a date or RFC 3339 date-time (instead of hours)."),
        query("until", "End of the window (default now)."),
    ]
    return {
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of every worker (text exposition format; no PHI)",
                "responses": {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/dashboard": {
            "get": operation(
                "Operator dashboard: calls, latency, feedback, input drift, shadow versions (HTML)",
                html("The page."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                parameters=window,
            )
        },
        "/dashboard.json": {
            "get": operation(
                "The dashboard's numbers",
                json_body("JsonObject", "Calls, feedback, drift, shadow comparisons, jobs and models."),
                security="adminToken",
                errors=_ADMIN_ERRORS,
                parameters=window,
            )
        },
        "/docs/registration": {
            "get": operation("Registration sheet of every service (HTML)", html("The page."))
        },
        "/docs/registration.json": {
            "get": operation(
                "Registration sheet of every service",
                json_body("JsonObject", "Server, JWT expectations and one entry per service."),
            )
        },
        "/docs/registration.md": {
            "get": {
                "summary": "Registration sheet of every service (Markdown)",
                "responses": {
                    "200": {
                        "description": "The sheet.",
                        "content": {"text/markdown": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }
