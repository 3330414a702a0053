"""The tables: audit trail, decisions with their cards and models, feedback.

``audit_event`` is append-only (database triggers refuse UPDATE, DELETE and TRUNCATE); one row per
accepted call, shaped to export as a FHIR R4 AuditEvent (IHE BALP). ``decision`` holds one answer per
``(client issuer, tenant, service, hook, hookInstance)``; its ``inputs`` (PHI) are the only thing the
retention purge clears. No table holds an access token or a JWT: the client is its issuer, subject,
tenant and the JWT's ``jti``.

A client without a tenant is stored with ``client_tenant = ''`` rather than NULL so that unique
indexes and ownership joins compare it like any other value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import SmallInteger
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from cds_server.persistence.types import BigId
from cds_server.persistence.types import JsonDoc
from cds_server.persistence.types import JsonText
from cds_server.persistence.types import UtcDateTime

#: Deterministic constraint names, so migrations can name what they drop on either dialect.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ISSUER = String(2048)
TENANT = String(512)
REF = String(512)
SERVICE_ID = String(128)
HOOK = String(128)
HOOK_INSTANCE = String(128)
REQUEST_ID = String(64)
CARD_UUID = String(255)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Decision(Base):
    """One decision per hookInstance of a client: what went in, what came out, what was shown."""

    __tablename__ = "decision"
    __table_args__ = (
        Index(
            "uq_decision_call",
            "client_issuer",
            "client_tenant",
            "service_id",
            "hook",
            "hook_instance",
            unique=True,
        ),
        Index("ix_decision_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_id: Mapped[str] = mapped_column(REQUEST_ID)
    client_issuer: Mapped[str] = mapped_column(ISSUER)
    client_tenant: Mapped[str] = mapped_column(TENANT)
    service_id: Mapped[str] = mapped_column(SERVICE_ID)
    hook: Mapped[str] = mapped_column(HOOK)
    hook_instance: Mapped[str] = mapped_column(HOOK_INSTANCE)
    patient_ref: Mapped[str | None] = mapped_column(REF)
    #: the whole response as answered (cards with their uuids, systemActions): a replay returns it
    response: Mapped[dict[str, Any]] = mapped_column(JsonText)
    #: features with provenance (PHI); NULL once the retention purge has run
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    #: SHA-256 of the canonical inputs JSON, kept after the purge to prove what was used
    inputs_sha256: Mapped[str | None] = mapped_column(String(64))
    inputs_purged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    #: model outputs, shadow models' included
    outputs: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    models: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    #: content-free degradation flags (``missing-optional:bloodPressure``, ...)
    notes: Mapped[list[str]] = mapped_column(JsonDoc)


class DecisionCard(Base):
    """A card we issued, one row each, so feedback can join on the card uuid and check ownership."""

    __tablename__ = "decision_card"
    __table_args__ = (
        Index("uq_decision_card_position", "decision_id", "position", unique=True),
        Index("ix_decision_card_owner", "card_uuid", "client_issuer", "client_tenant", "service_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    position: Mapped[int] = mapped_column(Integer)
    card_uuid: Mapped[str] = mapped_column(CARD_UUID)
    client_issuer: Mapped[str] = mapped_column(ISSUER)
    client_tenant: Mapped[str] = mapped_column(TENANT)
    service_id: Mapped[str] = mapped_column(SERVICE_ID)
    suggestion_uuids: Mapped[list[str]] = mapped_column(JsonDoc)


class DecisionModel(Base):
    """A model run behind a decision, relational so analytics can group by model version."""

    __tablename__ = "decision_model"
    __table_args__ = (
        CheckConstraint("role IN ('active', 'shadow')", name="role"),
        Index("ix_decision_model_decision_id", "decision_id"),
        Index("ix_decision_model_model", "model_id", "version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decision.id"))
    model_id: Mapped[str] = mapped_column(String(256))
    version: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))


class AuditEvent(Base):
    """One row per accepted call (auth passed, body valid), committed before the response.

    Append-only: the database refuses UPDATE, DELETE and TRUNCATE on this table.
    """

    __tablename__ = "audit_event"
    __table_args__ = (
        CheckConstraint("outcome IN (0, 4, 8, 12)", name="outcome"),
        Index("ix_audit_event_recorded_at", "recorded_at"),
        Index("ix_audit_event_patient_ref", "patient_ref"),
        Index("ix_audit_event_request_id", "request_id"),
        Index("ix_audit_event_hook_instance", "hook_instance"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: when the row was written (AuditEvent.recorded), server UTC
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    #: when the call arrived (AuditEvent.period.start)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_id: Mapped[str] = mapped_column(REQUEST_ID)
    client_issuer: Mapped[str] = mapped_column(ISSUER)
    client_subject: Mapped[str | None] = mapped_column(ISSUER)
    client_tenant: Mapped[str] = mapped_column(TENANT)
    #: the client JWT's ``jti`` (IHE BALP minimal token reference); never the token itself
    token_jti: Mapped[str | None] = mapped_column(String(512))
    user_ref: Mapped[str | None] = mapped_column(REF)
    patient_ref: Mapped[str | None] = mapped_column(REF)
    service_id: Mapped[str] = mapped_column(SERVICE_ID)
    hook: Mapped[str] = mapped_column(HOOK)
    hook_instance: Mapped[str] = mapped_column(HOOK_INSTANCE)
    status: Mapped[int] = mapped_column(SmallInteger)
    #: FHIR AuditEvent.outcome: 0 success, 4 minor failure, 8 serious failure, 12 major failure
    outcome: Mapped[int] = mapped_column(SmallInteger)
    error_code: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float] = mapped_column(Float)
    #: the cards were an earlier decision's (retried or concurrent hookInstance)
    replayed: Mapped[bool] = mapped_column(Boolean)
    #: no foreign key on purpose: an FK check locks ``decision``, and the audit insert must not wait
    #: on (or fail with) the decision table; decisions are never deleted, so the id stays valid
    decision_id: Mapped[int | None] = mapped_column(BigId)
    card_uuids: Mapped[list[str]] = mapped_column(JsonDoc)
    models: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    #: FHIR resource type → calls made to complete the prefetch (no content)
    fhir_calls: Mapped[dict[str, int]] = mapped_column(JsonDoc)
    #: how each prefetch key was completed (source, counts, reasons; no content)
    prefetch: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    server_version: Mapped[str] = mapped_column(String(32))


class Feedback(Base):
    """A clinician's response to a card we issued, kept once per (card, outcome, outcomeTimestamp)."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint("outcome IN ('accepted', 'overridden')", name="outcome"),
        Index("uq_feedback_key", "card_uuid", "outcome", "outcome_timestamp", unique=True),
        Index("ix_feedback_decision_card_id", "decision_card_id"),
        Index("ix_feedback_outcome_timestamp", "outcome_timestamp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_id: Mapped[str] = mapped_column(REQUEST_ID)
    client_issuer: Mapped[str] = mapped_column(ISSUER)
    client_tenant: Mapped[str] = mapped_column(TENANT)
    service_id: Mapped[str] = mapped_column(SERVICE_ID)
    decision_card_id: Mapped[int] = mapped_column(ForeignKey("decision_card.id"))
    card_uuid: Mapped[str] = mapped_column(CARD_UUID)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_timestamp: Mapped[datetime] = mapped_column(UtcDateTime)
    accepted_suggestions: Mapped[list[str]] = mapped_column(JsonDoc)
    reason_system: Mapped[str | None] = mapped_column(String(1024))
    reason_code: Mapped[str | None] = mapped_column(String(256))
    reason_display: Mapped[str | None] = mapped_column(String(1024))
    #: free text typed by a clinician: treat as PHI, never log it
    user_comment: Mapped[str | None] = mapped_column(Text)


class JwtReplay(Base):
    """A client JWT's ``jti`` seen, kept until the token expires: the shared replay store."""

    __tablename__ = "jwt_replay"
    __table_args__ = (Index("ix_jwt_replay_expires_at", "expires_at"),)

    #: SHA-256 of ``iss|jti``: the jti itself is not needed, only whether it was seen
    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TrustedClientRow(Base):
    """A client registered with ``cds-server clients add``; ``document`` is its validated spec."""

    __tablename__ = "trusted_client"

    issuer: Mapped[str] = mapped_column(ISSUER, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SecurityEvent(Base):
    """A refused authentication (or another security decision), without the token (ASVS 16.3).

    ``issuer`` is set only for a registered issuer; an unknown one is attacker-chosen text and is
    kept as ``claimed_issuer_sha256`` so repeated attempts can still be correlated.
    """

    __tablename__ = "security_event"
    __table_args__ = (Index("ix_security_event_recorded_at", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    request_id: Mapped[str] = mapped_column(REQUEST_ID)
    kind: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str | None] = mapped_column(ISSUER)
    claimed_issuer_sha256: Mapped[str | None] = mapped_column(String(64))
    kid: Mapped[str | None] = mapped_column(String(256))
    jti_sha256: Mapped[str | None] = mapped_column(String(64))
    source_ip: Mapped[str | None] = mapped_column(String(64))
    #: events of this kind dropped by the rate limit since the previous one was written
    suppressed: Mapped[int] = mapped_column(Integer)
