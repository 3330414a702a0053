"""What a hook call leaves behind: who asked, what was decided, and the store that keeps it.

The pipeline builds one :class:`CallRecord` per accepted call (auth passed, body valid) and hands it
to a :class:`DecisionStore` *before* any card leaves (fail closed). The store keeps one audit row per
record and one decision per ``(client, service, hook, hookInstance)``: a retried hookInstance gets the
first answer's cards back instead of a second decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Literal
from typing import Protocol

from cds_server.hooks.cards import HookResponse


@dataclass(frozen=True)
class ClientIdentity:
    """The EHR client that made the call, as authentication established it (never the token)."""

    issuer: str
    subject: str | None = None
    tenant: str | None = None
    #: the JWT's ``jti``, recorded as the BALP "minimal" token reference
    token_id: str | None = None

    @classmethod
    def anonymous(cls) -> ClientIdentity:
        """A call made without client authentication (development profile only)."""
        return cls(issuer="urn:cds-server:anonymous")


@dataclass(frozen=True)
class ModelUse:
    """One model run behind a decision; ``shadow`` runs are recorded but never shown."""

    model_id: str
    version: str
    sha256: str
    provider: str
    role: Literal["active", "shadow"] = "active"


@dataclass(frozen=True)
class ServiceAnswer:
    """A service's answer: the response, plus what produced it (for the decision record).

    ``inputs`` (features with provenance) are PHI and subject to retention; ``outputs`` hold the model
    outputs, shadow ones included; ``notes`` are content-free degradation flags such as
    ``missing-optional:bloodPressure`` or ``not-applicable:age_years``.
    """

    response: HookResponse
    inputs: Mapping[str, Any] | None = None
    outputs: Mapping[str, Any] | None = None
    models: tuple[ModelUse, ...] = ()
    notes: tuple[str, ...] = ()


#: FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure
AuditOutcome = Literal[0, 4, 8, 12]


@dataclass(frozen=True)
class CallRecord:
    """Everything audited about one accepted call. No token, no JWT, no FHIR content."""

    request_id: str
    received_at: datetime
    client: ClientIdentity
    service_id: str
    hook: str
    hook_instance: str
    user_ref: str | None
    patient_ref: str | None
    status: int
    outcome: AuditOutcome
    latency_ms: float
    error_code: str | None = None
    #: resource type → number of FHIR calls made to complete the prefetch
    fhir_calls: Mapping[str, int] = field(default_factory=dict)
    prefetch_report: tuple[Mapping[str, Any], ...] = ()
    answer: ServiceAnswer | None = None
    #: the cards were the stored answer of an earlier call with the same hookInstance
    replayed: bool = False

    @property
    def card_uuids(self) -> tuple[str, ...]:
        return tuple(card.uuid for card in self.answer.response.cards) if self.answer else ()


class DecisionStore(Protocol):
    """Durable audit and decisions (implemented in :mod:`cds_server.persistence`)."""

    def replay(
        self, *, client: ClientIdentity, service_id: str, hook: str, hook_instance: str
    ) -> HookResponse | None:
        """The response already decided for this hookInstance of this client, if any."""
        ...

    def record(self, record: CallRecord) -> HookResponse | None:
        """Commit the audit row (and the decision, when new) before returning.

        :return: ``None``, or the response stored by a concurrent call with the same hookInstance that
            decided first; the caller then answers with it instead of its own (one decision, same cards).
        :raise ServiceUnavailable: it could not be committed; the caller answers 503 without cards.
        """
        ...
