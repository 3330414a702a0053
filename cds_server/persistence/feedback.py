"""Storing feedback: once per (card, outcome, outcomeTimestamp), only for cards we issued to the caller.

Each item is linked to the ``decision_card`` row of the card: same client issuer and tenant, same
service id, and for accepted feedback every accepted suggestion id among that card's suggestions.
Items that do not match are **not stored** and the answer does not say so: an unknown card uuid and
another client's (or tenant's) card uuid get the same 200 and the same body, so the endpoint cannot
be used to learn whether a card exists. The count of such items is logged, without ids.

Repeats are absorbed by the unique index ``uq_feedback_key`` with ``INSERT … ON CONFLICT DO NOTHING``
(the spec says clients may report the same card more than once); the first report of a key wins.
The batch is one transaction: a 200 means every stored row is committed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cds_server.errors import ServiceNotFound
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.feedback import FeedbackItem
from cds_server.hooks.registry import ServiceRegistry
from cds_server.persistence.database import Database
from cds_server.persistence.database import insert_or_ignore
from cds_server.persistence.models import DecisionCard
from cds_server.persistence.models import Feedback
from cds_server.persistence.store import Clock
from cds_server.persistence.store import utc_now

log = logging.getLogger("cds_server.feedback")

FEEDBACK_KEY = ("card_uuid", "outcome", "outcome_timestamp")


@dataclass(frozen=True)
class FeedbackReceipt:
    """What happened to a batch; for logs and tests, never for the response body (no oracle)."""

    received: int
    stored: int
    duplicates: int
    unmatched: int


@dataclass(frozen=True)
class _IssuedCard:
    id: int
    suggestion_uuids: frozenset[str]


class FeedbackRecorder:
    def __init__(self, database: Database, registry: ServiceRegistry, *, clock: Clock = utc_now) -> None:
        self._db, self._registry, self._clock = database, registry, clock

    def record(
        self,
        *,
        client: ClientIdentity,
        service_id: str,
        items: Sequence[FeedbackItem],
        request_id: str,
    ) -> FeedbackReceipt:
        """Store the items that match cards issued to ``client`` by ``service_id``, each key once.

        :raise ServiceNotFound: no service has this id (404).
        :raise DatabaseUnavailable: nothing could be committed (503; the client may send it again).
        """
        if not self._registry.has(service_id):
            raise ServiceNotFound()
        first_reports: dict[tuple[Any, ...], FeedbackItem] = {}
        for item in items:
            first_reports.setdefault(item.key, item)
        distinct = list(first_reports.values())
        received_at = self._clock()
        with self._db.write() as session:
            cards = _issued_cards(session, client, service_id, {item.card for item in distinct})
            rows = [
                _row(
                    item,
                    cards[item.card].id,
                    client=client,
                    service_id=service_id,
                    request_id=request_id,
                    received_at=received_at,
                )
                for item in distinct
                if _matches(item, cards.get(item.card))
            ]
            stored = 0
            if rows:
                statement = insert_or_ignore(session, Feedback, FEEDBACK_KEY).values(rows)
                stored = len(session.execute(statement.returning(Feedback.id)).all())
        receipt = FeedbackReceipt(
            received=len(items),
            stored=stored,
            # repeats inside the batch plus keys stored by an earlier request
            duplicates=(len(items) - len(distinct)) + (len(rows) - stored),
            unmatched=len(distinct) - len(rows),
        )
        log.info(
            "feedback for %s: %d items, %d stored, %d repeats, %d not matching a card issued to this client",
            service_id,
            receipt.received,
            receipt.stored,
            receipt.duplicates,
            receipt.unmatched,
        )
        return receipt


def _issued_cards(
    session: Session, client: ClientIdentity, service_id: str, card_uuids: Iterable[str]
) -> dict[str, _IssuedCard]:
    rows = session.execute(
        select(DecisionCard.id, DecisionCard.card_uuid, DecisionCard.suggestion_uuids)
        .where(
            DecisionCard.card_uuid.in_(sorted(card_uuids)),
            DecisionCard.client_issuer == client.issuer,
            DecisionCard.client_tenant == (client.tenant or ""),
            DecisionCard.service_id == service_id,
        )
        .order_by(DecisionCard.id)
    )
    # a service that reuses a card uuid across decisions: the latest issue of the card is the one
    return {row.card_uuid: _IssuedCard(row.id, frozenset(row.suggestion_uuids)) for row in rows}


def _matches(item: FeedbackItem, card: _IssuedCard | None) -> bool:
    if card is None:
        return False
    return item.outcome != "accepted" or set(item.accepted_suggestions) <= card.suggestion_uuids


def _row(
    item: FeedbackItem,
    card_id: int,
    *,
    client: ClientIdentity,
    service_id: str,
    request_id: str,
    received_at: datetime,
) -> dict[str, Any]:
    reason = item.override_reason
    return {
        "received_at": received_at,
        "request_id": request_id,
        "client_issuer": client.issuer,
        "client_tenant": client.tenant or "",
        "service_id": service_id,
        "decision_card_id": card_id,
        "card_uuid": item.card,
        "outcome": item.outcome,
        "outcome_timestamp": item.outcome_timestamp,
        "accepted_suggestions": list(item.accepted_suggestions),
        "reason_system": reason.system if reason else None,
        "reason_code": reason.code if reason else None,
        "reason_display": reason.display if reason else None,
        "user_comment": reason.user_comment if reason else None,
    }
