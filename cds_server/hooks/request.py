"""The CDS Hooks 2.0 request envelope and the context of each hook we validate.

Pydantic models with ``hide_input_in_errors``: a validation error never carries the input (it may be
PHI). Unknown fields are kept (the spec reserves ``extension`` and asks services to tolerate the rest);
prefetch content stays plain dicts — FHIR resources are never validated on the hot path.
"""

from __future__ import annotations

from typing import Annotated
from typing import Any

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StrictInt
from pydantic import StringConstraints
from pydantic import ValidationError
from pydantic import model_validator

from cds_server.errors import InvalidHookRequest

#: FHIR ``id`` datatype; also what keeps ``123&_include=*`` or ``../x`` out of our FHIR queries.
FHIR_ID = r"[A-Za-z0-9\-.]{1,64}"
UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
HOOK_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9\-.]{0,127}$"

FhirId = Annotated[str, StringConstraints(pattern=f"^{FHIR_ID}$")]
UserReference = Annotated[
    str, StringConstraints(pattern=f"^(Practitioner|PractitionerRole|Patient|RelatedPerson)/{FHIR_ID}$")
]
TypedReference = Annotated[str, StringConstraints(pattern=f"^[A-Z][A-Za-z]{{1,63}}/{FHIR_ID}$")]

_STRICT = ConfigDict(hide_input_in_errors=True, extra="allow", frozen=True)


class FhirAuthorization(BaseModel):
    """``fhirAuthorization``: an access token for ``fhirServer``. Transient: never logged nor stored."""

    model_config = _STRICT

    access_token: str = Field(min_length=1, max_length=16384, repr=False)
    token_type: str = Field(max_length=64)
    expires_in: StrictInt
    scope: str = Field(max_length=8192)
    subject: str = Field(max_length=1024)
    patient: FhirId | None = None

    def usable(self) -> bool:
        """Whether the token may be sent at all (the spec fixes ``Bearer``; an expired token is useless)."""
        return self.token_type.lower() == "bearer" and self.expires_in > 0


class _Bundle(BaseModel):
    model_config = _STRICT
    resourceType: str = Field(pattern="^Bundle$")


class PatientViewContext(BaseModel):
    model_config = _STRICT
    userId: UserReference
    patientId: FhirId
    encounterId: FhirId | None = None


class OrderSelectContext(PatientViewContext):
    selections: list[TypedReference] = Field(min_length=1, max_length=1000)
    draftOrders: _Bundle


class OrderSignContext(PatientViewContext):
    draftOrders: _Bundle


class EncounterContext(PatientViewContext):
    encounterId: FhirId


#: Context schema of each hook whose context we know (CDS Hooks Library, hook versions 1.0).
#: Other hooks (organisation-specific, newer library hooks) get the generic check only.
HOOK_CONTEXTS: dict[str, type[BaseModel]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
    "encounter-start": EncounterContext,
    "encounter-discharge": EncounterContext,
}


class HookRequest(BaseModel):
    """One validated CDS Hooks request (``POST /cds-services/{id}`` body)."""

    model_config = _STRICT

    hook: Annotated[str, StringConstraints(pattern=HOOK_NAME_RE)]
    hookInstance: Annotated[str, StringConstraints(pattern=UUID_RE)]
    fhirServer: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://\S+$")] | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> HookRequest:
        # cds-r-1: fhirAuthorization requires fhirServer
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirAuthorization is present but fhirServer is not (cds-r-1)")
        return self

    @property
    def patient_id(self) -> str | None:
        value = self.context.get("patientId")
        return value if isinstance(value, str) else None

    @property
    def user_id(self) -> str | None:
        value = self.context.get("userId")
        return value if isinstance(value, str) else None


def parse_hook_request(body: Any) -> HookRequest:
    """Validate a decoded JSON body as a CDS Hooks request (and its context, for hooks we know).

    :raise InvalidHookRequest: with one issue per problem, naming the field, never its value.
    """
    if not isinstance(body, dict):
        raise InvalidHookRequest("The request body must be a JSON object.")
    try:
        request = HookRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidHookRequest(issues=_describe(exc)) from None
    context_model = HOOK_CONTEXTS.get(request.hook)
    if context_model is not None:
        try:
            context_model.model_validate(request.context)
        except ValidationError as exc:
            raise InvalidHookRequest(issues=_describe(exc, prefix="context")) from None
    return request


def _describe(exc: ValidationError, *, prefix: str | None = None) -> list[str]:
    issues = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        location = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(error["loc"]))
        # include_input=False: pydantic messages then describe the rule broken, never the value
        issues.append(f"{location}: {error['msg']}" if location else error["msg"])
    return issues
