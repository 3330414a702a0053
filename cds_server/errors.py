"""The one exception tree of cds-server, rendered as FHIR OperationOutcome in one place.

Every error the server answers with is a :class:`CdsError`. Each class carries the HTTP status,
a stable machine-readable ``code`` (integrators key on it; it never changes meaning) and the FHIR
``issue-type`` used in the OperationOutcome. Messages are written for an integrator and never
contain request content: no patient data, no tokens, no echo of the input.

::

    CdsError (500 internal-error)
    ├── BadRequest (400 bad-request)
    │   ├── InvalidJson (400 invalid-json)
    │   ├── InvalidHookRequest (400 invalid-hook-request)
    │   ├── InvalidFeedback (400 invalid-feedback)
    │   └── InvalidJobRequest (400 invalid-job-request)
    ├── AuthenticationFailed (401 unauthorized)        identical body for every cause
    ├── Forbidden (403 forbidden)
    ├── NotFound (404 not-found)
    │   ├── ServiceNotFound (404 unknown-service)
    │   └── JobNotFound (404 unknown-job)              also another client's job: no existence oracle
    ├── MethodNotAllowed (405 method-not-allowed)      carries the Allow header
    ├── NotAcceptable (406 not-acceptable)
    ├── Conflict (409 conflict)
    ├── PayloadTooLarge (413 payload-too-large)
    ├── UnsupportedMediaType (415 unsupported-media-type)
    ├── PrefetchUnavailable (412 prefetch-unavailable)
    ├── Unprocessable (422 unprocessable)
    ├── RateLimited (429 rate-limited)                 carries Retry-After
    └── ServiceUnavailable (503 unavailable)           carries Retry-After
        ├── ModelNotReady (503 model-not-ready)
        ├── ReplayStoreUnavailable (503 replay-store-unavailable)   JWT replay cannot be ruled out
        └── DatabaseUnavailable (503 database-unavailable)
            └── AuditUnavailable (503 audit-unavailable)   no cards leave without their audit row
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import ClassVar

#: The code system of our stable error codes, as it appears in ``OperationOutcome.issue.details``.
ERROR_CODE_SYSTEM = "urn:cds-server:error-code"


class CdsError(Exception):
    """Base of every error the server turns into an HTTP response."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal-error"
    issue_type: ClassVar[str] = "exception"
    default_message: ClassVar[str] = "The server could not complete the request."

    def __init__(self, message: str | None = None, *, issues: Sequence[str] = ()) -> None:
        self.message = message or self.default_message
        #: further diagnostics, one OperationOutcome issue each (never request content)
        self.issues = tuple(issues)
        super().__init__(self.message)

    def headers(self) -> Mapping[str, str]:
        """Extra response headers this error needs (Allow, Retry-After, ...)."""
        return {}

    def to_operation_outcome(self) -> dict[str, Any]:
        """The FHIR R4 OperationOutcome body for this error."""
        issues = [self._issue(self.message)]
        issues.extend(self._issue(text) for text in self.issues)
        return {"resourceType": "OperationOutcome", "issue": issues}

    def _issue(self, text: str) -> dict[str, Any]:
        return {
            "severity": "error" if self.status < 500 else "fatal",
            "code": self.issue_type,
            "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": self.code}], "text": text},
        }


class BadRequest(CdsError):
    status = 400
    code = "bad-request"
    issue_type = "invalid"
    default_message = "The request is not valid."


class InvalidJson(BadRequest):
    code = "invalid-json"
    issue_type = "structure"
    default_message = "The request body is not valid JSON."


class InvalidHookRequest(BadRequest):
    code = "invalid-hook-request"
    default_message = "The request is not a valid CDS Hooks request."


class InvalidFeedback(BadRequest):
    code = "invalid-feedback"
    default_message = "The feedback is not valid."


class InvalidJobRequest(BadRequest):
    code = "invalid-job-request"
    default_message = "The job request is not valid."


class AuthenticationFailed(CdsError):
    """Any authentication failure. The body is the same for every cause, on purpose."""

    status = 401
    code = "unauthorized"
    issue_type = "login"
    default_message = "Authentication failed."

    def __init__(self, reason: str = "unspecified") -> None:
        # The reason goes to the security log only; it must never reach the response body.
        super().__init__(self.default_message)
        self.reason = reason

    def headers(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="cds-services"'}


class Forbidden(CdsError):
    status = 403
    code = "forbidden"
    issue_type = "forbidden"
    default_message = "This client may not do that."


class NotFound(CdsError):
    status = 404
    code = "not-found"
    issue_type = "not-found"
    default_message = "There is nothing at this URL."


class ServiceNotFound(NotFound):
    code = "unknown-service"
    default_message = "No CDS service with this id is registered on this server."


class JobNotFound(NotFound):
    """No job with this id for the calling client; the same answer when it is another client's job."""

    code = "unknown-job"
    default_message = "No job with this id."


class MethodNotAllowed(CdsError):
    status = 405
    code = "method-not-allowed"
    issue_type = "not-supported"
    default_message = "This method is not allowed on this URL."

    def __init__(self, allowed: Sequence[str], message: str | None = None) -> None:
        super().__init__(message)
        self.allowed = tuple(sorted(set(allowed)))

    def headers(self) -> Mapping[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class NotAcceptable(CdsError):
    status = 406
    code = "not-acceptable"
    issue_type = "not-supported"
    default_message = "None of the accepted media types can be produced for this URL."


class Conflict(CdsError):
    status = 409
    code = "conflict"
    issue_type = "conflict"
    default_message = "The request conflicts with the current state of the resource."


class PrefetchUnavailable(CdsError):
    """Required FHIR data was neither prefetched nor obtainable from ``fhirServer`` (CDS Hooks 412)."""

    status = 412
    code = "prefetch-unavailable"
    issue_type = "incomplete"
    default_message = "Required FHIR data was neither prefetched nor obtainable from the FHIR server."


class PayloadTooLarge(CdsError):
    status = 413
    code = "payload-too-large"
    issue_type = "too-long"
    default_message = "The request body is larger than this server accepts."


class UnsupportedMediaType(CdsError):
    status = 415
    code = "unsupported-media-type"
    issue_type = "not-supported"
    default_message = "The request body must be application/json."


class Unprocessable(CdsError):
    status = 422
    code = "unprocessable"
    issue_type = "processing"
    default_message = "The request is well-formed but cannot be processed."


class _RetryAfter(CdsError):
    def __init__(
        self, message: str | None = None, *, retry_after: int = 5, issues: Sequence[str] = ()
    ) -> None:
        super().__init__(message, issues=issues)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.retry_after)}


class RateLimited(_RetryAfter):
    status = 429
    code = "rate-limited"
    issue_type = "throttled"
    default_message = "Too many requests from this client; retry later."


class ServiceUnavailable(_RetryAfter):
    status = 503
    code = "unavailable"
    issue_type = "transient"
    default_message = "A dependency of this server is unavailable; retry later."


class ModelNotReady(ServiceUnavailable):
    code = "model-not-ready"
    default_message = "The model behind this service is not ready."


class DatabaseUnavailable(ServiceUnavailable):
    code = "database-unavailable"
    default_message = "The database is unavailable; retry later."


class AuditUnavailable(DatabaseUnavailable):
    """The audit row of a call could not be committed, so the call gives no cards (fail closed)."""

    code = "audit-unavailable"
    default_message = "The audit trail is unavailable, so no decision support can be given; retry later."


class ReplayStoreUnavailable(ServiceUnavailable):
    """The shared ``jti`` store cannot be asked, so a replayed JWT cannot be ruled out (fail closed)."""

    code = "replay-store-unavailable"
    default_message = "Authentication cannot be completed right now; retry later."
