"""The registration sheet as data (JSON-ready), one entry per service id.

Scopes follow SMART App Launch: each prefetch template reads one resource type, for the patient in
context (``{{context.patientId}}``) or the user (``{{userPractitionerId}}`` and friends); the sheet
lists SMART v1 (``patient/Observation.read``) and v2 (``patient/Observation.rs``) forms, because EHRs
differ in which they issue in ``fhirAuthorization``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cds_server import __version__
from cds_server.auth.clients import DEFAULT_ALGORITHMS
from cds_server.auth.clients import SUPPORTED_ALGORITHMS
from cds_server.config import Settings
from cds_server.hooks.override_reasons import RISK_CARD_OVERRIDE_REASONS
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import PrefetchSpec
from cds_server.services.async_service import AsyncServiceHandler
from cds_server.services.model_service import ModelServiceHandler
from cds_server.services.policy import CARD_TYPE_SYSTEM
from cds_server.services.policy import PREDICTION_EXTENSION
from cds_server.services.policy import CompiledPolicy

_USER_TOKENS = (
    "{{userPractitionerId}}",
    "{{userPractitionerRoleId}}",
    "{{userPatientId}}",
    "{{userRelatedPersonId}}",
)


def build_sheet(services: Iterable[CdsService], settings: Settings) -> dict[str, Any]:
    """Everything an EHR needs to register every service of this server."""
    base = settings.public_base_url
    by_id: dict[str, list[CdsService]] = {}
    for service in services:
        by_id.setdefault(service.id, []).append(service)
    return {
        "server": {
            "version": __version__,
            "baseUrl": base,
            "discoveryUrl": f"{base}/cds-services",
            "cdsHooks": "2.0",
            "fhir": "R4 (4.0.1)",
            "openapi": f"{base}/openapi.json",
        },
        "authentication": _authentication(settings),
        "services": [_service(base, hooks) for _, hooks in sorted(by_id.items())],
    }


def _authentication(settings: Settings) -> dict[str, Any]:
    return {
        "header": {
            "alg": {
                "default": list(DEFAULT_ALGORITHMS),
                "registrable": sorted(SUPPORTED_ALGORITHMS),
                "never": "none and HS* (symmetric)",
            },
            "kid": "required: the id of a key in the JWK Set registered for your issuer",
            "typ": "JWT, or absent",
            "jku": "only the JWK Set URL registered for your issuer; it is never fetched from a token",
        },
        "claims": {
            "iss": "your registered issuer, exactly",
            "aud": "the exact URL called: the service URL for a hook call, the feedback URL for feedback, "
            "the discovery URL for discovery (no trailing slash, no query)",
            "exp": f"required; at most {settings.jwt_max_lifetime_s} s after iat",
            "iat": f"required; clock skew up to {settings.jwt_leeway_s} s is accepted",
            "jti": "required, unique per call (at most 255 characters): a replayed jti is refused",
            "tenant": "required if your registration lists tenants, else optional",
        },
        "discoveryRequiresAuth": settings.discovery_requires_auth,
        "errors": "401 with one OperationOutcome body for every cause; the reason is in the server's "
        "security log (GET /admin/security-events)",
    }


def _service(base: str, hooks: list[CdsService]) -> dict[str, Any]:
    first = hooks[0]
    url = f"{base}/cds-services/{first.id}"
    # one id may serve several hooks, each with its own prefetch (usually the same)
    prefetch = {service.hook: [_prefetch(spec) for spec in service.prefetch] for service in hooks}
    scopes = sorted({scope for items in prefetch.values() for item in items for scope in item["scopes"]})
    entry: dict[str, Any] = {
        "id": first.id,
        "title": first.title,
        "description": first.description,
        "hooks": [service.hook for service in hooks],
        "url": url,
        "feedbackUrl": f"{url}/feedback",
        "jwtAudience": {"hook": url, "feedback": f"{url}/feedback"},
        "prefetch": prefetch,
        "prefetchSameForEveryHook": len({repr(items) for items in prefetch.values()}) == 1,
        "fhirAuthorizationScopes": scopes,
        "usageRequirements": first.usage_requirements,
    }
    policy = _policy(first)
    entry["cards"] = _cards(base, policy, asynchronous=isinstance(first.handler, AsyncServiceHandler))
    entry["model"] = (
        {"id": policy.model.id, "version": policy.model.version, "card": f"{base}/models/{policy.model.id}"}
        if policy is not None
        else None
    )
    return entry


def _prefetch(spec: PrefetchSpec) -> dict[str, Any]:
    compartment = "user" if any(token in spec.template for token in _USER_TOKENS) else "patient"
    kind = spec.resource_type
    return {
        "key": spec.key,
        "template": spec.template,
        "resourceType": kind,
        "required": spec.required,
        "scopes": [f"{compartment}/{kind}.read", f"{compartment}/{kind}.rs"],
    }


def _policy(service: CdsService) -> CompiledPolicy | None:
    handler = service.handler
    if isinstance(handler, ModelServiceHandler | AsyncServiceHandler):
        return handler.policy
    return None


def _cards(base: str, policy: CompiledPolicy | None, *, asynchronous: bool) -> dict[str, Any] | None:
    """What the service's cards look like; ``None`` for a service registered in code."""
    if policy is None:
        return None
    card = policy.card
    indicators = {band.indicator for band in card.bands.values()} or {card.indicator}
    if card.notScored == "card" or asynchronous:
        indicators.add("info")  # "not calculated" and "analysis running" cards inform
    links = [{"label": "Model card and source attributes", "url": f"{base}/models/{policy.model.id}"}]
    if asynchronous:
        links.append({"label": "Result page (signed, expiring link)", "url": f"{base}/jobs/{{job id}}/view"})
    return {
        "topic": {"system": CARD_TYPE_SYSTEM, "code": card.type, "display": card.title},
        "indicators": sorted(indicators, key=("info", "warning", "critical").index),
        "summary": card.summary,
        "shownWhen": card.when,
        "whenNotScored": "silent" if card.notScored == "silent" else "an info card saying why",
        "suggestions": [
            {
                "label": suggestion.label,
                "action": suggestion.action.type,
                "resourceType": suggestion.action.resource.get("resourceType"),
                "description": suggestion.action.description,
            }
            for suggestion in card.suggestions
        ],
        "links": links,
        "overrideReasons": [reason.model_dump(exclude_none=True) for reason in RISK_CARD_OVERRIDE_REASONS],
        "extension": {
            PREDICTION_EXTENSION: "the model's id, version and outputs as numbers (no text to parse)"
        },
        "feedback": "send accepted (with acceptedSuggestions) or overridden (with an overrideReason) "
        "to the feedback URL; card and suggestion uuids are stable per decision",
    }
