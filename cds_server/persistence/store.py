"""The pipeline's :class:`~cds_server.hooks.decisions.DecisionStore` on the database.

``record`` writes, in **one transaction** committed before it returns: the decision (for a new 200
answer), its cards and models, and the call's audit row. If that transaction cannot be committed
within the timeouts, it raises :class:`~cds_server.errors.AuditUnavailable` and the call answers 503
without cards (fail closed).

Concurrent identical first calls: both find nothing to replay, both run the service, both try to
insert their decision. The unique index ``uq_decision_call`` lets exactly one insert through
(``INSERT … ON CONFLICT DO NOTHING``; on PostgreSQL the second insert waits for the first
transaction and then does nothing, on SQLite writers are serialised). The loser discards its own
answer, reads the winner's decision in the same transaction, writes its audit row with the winner's
card uuids marked ``replayed``, and returns the winner's response, which the pipeline sends instead
of its own. Both callers therefore see the same cards, and only the winner's cards were ever issued.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy import and_
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy.orm import Session

from cds_server import __version__
from cds_server.errors import AuditUnavailable
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.decisions import CallRecord
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.decisions import ModelUse
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.persistence.database import Database
from cds_server.persistence.database import canonical_json
from cds_server.persistence.database import insert_or_ignore
from cds_server.persistence.fast_record import insert_new_decision
from cds_server.persistence.models import AuditEvent
from cds_server.persistence.models import Decision
from cds_server.persistence.models import DecisionCard
from cds_server.persistence.models import DecisionModel

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Decided:
    """What the audit row says about the decision behind the call."""

    decision_id: int | None
    card_uuids: tuple[str, ...]
    models: list[dict[str, Any]]
    replayed: bool
    #: a concurrent call's stored answer, to be sent instead of this call's own
    instead: HookResponse | None = None


class SqlDecisionStore:
    def __init__(self, database: Database, *, clock: Clock = utc_now) -> None:
        self._db = database
        self._clock = clock

    def replay(
        self, *, client: ClientIdentity, service_id: str, hook: str, hook_instance: str
    ) -> HookResponse | None:
        """The response stored for this hookInstance of this client (and tenant), if any.

        :raise AuditUnavailable: the database cannot be read (the call answers 503).
        """
        key = _call_key(client, service_id, hook, hook_instance)
        # autocommit: a lone SELECT is one round trip, without BEGIN and ROLLBACK around it
        with self._db.autocommit(AuditUnavailable, writes=False) as connection:
            stored = connection.execute(select(Decision.response).where(key)).scalar_one_or_none()
        return None if stored is None else HookResponse.model_validate(stored)

    def record(self, record: CallRecord) -> HookResponse | None:
        """Commit the call's audit row (and its decision when new); see the module docstring.

        :return: the response of a concurrent call that decided first, to send instead; else ``None``.
        :raise AuditUnavailable: nothing could be committed; the call answers 503 without cards.
        """
        if self._db.dialect == "postgresql" and self._record_new_decision(record):
            return None
        with self._db.write(AuditUnavailable) as session:
            decided = self._decide(session, record)
            session.execute(insert(AuditEvent).values(_audit_row(record, decided, recorded_at=self._clock())))
        return decided.instead

    def _record_new_decision(self, record: CallRecord) -> bool:
        """The one-round-trip path for a new answer (PostgreSQL); ``False`` when it does not apply.

        It does not apply to calls without cards to decide (errors, replays) and finds a conflict when
        the hookInstance was decided already: then nothing was written and the ordinary path runs.
        """
        answer = record.answer
        if record.status != 200 or answer is None or record.replayed:
            return False
        client = record.client
        response = answer.response
        decided = _Decided(None, record.card_uuids, _models(answer.models), replayed=False)
        now = self._clock()
        parameters = _audit_row(record, decided, recorded_at=now)
        parameters.update(
            created_at=now,
            response=response.model_dump(mode="json"),
            inputs=answer.inputs,
            inputs_sha256=_sha256(answer.inputs),
            outputs=answer.outputs,
            notes=list(answer.notes),
            cards=[
                {
                    "position": position,
                    "card_uuid": card.uuid,
                    "suggestion_uuids": [s.uuid for s in card.suggestions],
                }
                for position, card in enumerate(response.cards)
            ],
        )
        parameters.pop("replayed")
        parameters.pop("decision_id")
        assert parameters["client_tenant"] == (client.tenant or "")
        with self._db.autocommit(AuditUnavailable) as connection:
            return insert_new_decision(connection, parameters) is not None

    def _decide(self, session: Session, record: CallRecord) -> _Decided:
        answer = record.answer
        if record.status == 200 and answer is not None and not record.replayed:
            decision_id = self._insert_decision(session, record, answer)
            if decision_id is not None:
                return _Decided(decision_id, record.card_uuids, _models(answer.models), replayed=False)
            winner = self._stored(session, record)
            assert winner is not None, "the unique index refused the decision, so one exists"
            return _Decided(winner.decision_id, winner.card_uuids, winner.models, True, winner.instead)
        if record.replayed:
            stored = self._stored(session, record)
            if stored is not None:
                return _Decided(stored.decision_id, stored.card_uuids, stored.models, replayed=True)
            return _Decided(None, (), [], replayed=True)
        return _Decided(None, record.card_uuids, _models(answer.models) if answer else [], replayed=False)

    def _insert_decision(self, session: Session, record: CallRecord, answer: ServiceAnswer) -> int | None:
        client = record.client
        response = answer.response
        statement = (
            insert_or_ignore(
                session, Decision, ("client_issuer", "client_tenant", "service_id", "hook", "hook_instance")
            )
            .values(
                created_at=self._clock(),
                request_id=record.request_id,
                client_issuer=client.issuer,
                client_tenant=client.tenant or "",
                service_id=record.service_id,
                hook=record.hook,
                hook_instance=record.hook_instance,
                patient_ref=record.patient_ref,
                response=response.model_dump(mode="json"),
                inputs=answer.inputs,
                inputs_sha256=_sha256(answer.inputs),
                outputs=answer.outputs,
                models=_models(answer.models),
                notes=list(answer.notes),
            )
            .returning(Decision.id)
        )
        decision_id = session.execute(statement).scalar_one_or_none()
        if decision_id is None:
            return None
        owner = {
            "client_issuer": client.issuer,
            "client_tenant": client.tenant or "",
            "service_id": record.service_id,
        }
        cards = [
            {
                "decision_id": decision_id,
                "position": position,
                "card_uuid": card.uuid,
                "suggestion_uuids": [suggestion.uuid for suggestion in card.suggestions],
                **owner,
            }
            for position, card in enumerate(response.cards)
        ]
        if cards:
            session.execute(insert(DecisionCard), cards)
        models = [{"decision_id": decision_id, **_model_columns(model)} for model in answer.models]
        if models:
            session.execute(insert(DecisionModel), models)
        return int(decision_id)

    def _stored(self, session: Session, record: CallRecord) -> _Decided | None:
        key = _call_key(record.client, record.service_id, record.hook, record.hook_instance)
        row = session.execute(
            select(Decision.id, Decision.response, Decision.models).where(key)
        ).one_or_none()
        if row is None:
            return None
        response = HookResponse.model_validate(row.response)
        card_uuids = tuple(card.uuid for card in response.cards)
        return _Decided(row.id, card_uuids, list(row.models), replayed=True, instead=response)


def _call_key(client: ClientIdentity, service_id: str, hook: str, hook_instance: str) -> ColumnElement[bool]:
    return and_(
        Decision.client_issuer == client.issuer,
        Decision.client_tenant == (client.tenant or ""),
        Decision.service_id == service_id,
        Decision.hook == hook,
        Decision.hook_instance == hook_instance,
    )


def _audit_row(record: CallRecord, decided: _Decided, *, recorded_at: datetime) -> dict[str, Any]:
    client = record.client
    return {
        "recorded_at": recorded_at,
        "received_at": record.received_at,
        "request_id": record.request_id,
        "client_issuer": client.issuer,
        "client_subject": client.subject,
        "client_tenant": client.tenant or "",
        "token_jti": client.token_id,
        "user_ref": record.user_ref,
        "patient_ref": record.patient_ref,
        "service_id": record.service_id,
        "hook": record.hook,
        "hook_instance": record.hook_instance,
        "status": record.status,
        "outcome": record.outcome,
        "error_code": record.error_code,
        "latency_ms": round(record.latency_ms, 3),
        "replayed": decided.replayed,
        "decision_id": decided.decision_id,
        "card_uuids": list(decided.card_uuids),
        "models": decided.models,
        "fhir_calls": dict(record.fhir_calls),
        "prefetch": [dict(item) for item in record.prefetch_report],
        "server_version": __version__,
    }


def _model_columns(model: ModelUse) -> dict[str, str]:
    return {
        "model_id": model.model_id,
        "version": model.version,
        "sha256": model.sha256,
        "provider": model.provider,
        "role": model.role,
    }


def _models(models: Sequence[ModelUse]) -> list[dict[str, Any]]:
    return [_model_columns(model) for model in models]


def _sha256(inputs: Any) -> str | None:
    return None if inputs is None else hashlib.sha256(canonical_json(inputs)).hexdigest()
