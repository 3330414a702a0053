"""The outbox relay: broker messages for accepted jobs, sent after their transaction committed.

A job's row and its outbox row commit together, so an accepted job always has a message to send;
the relay sends it when the broker answers. A row is deleted only after its message was handed to
the broker, so a crash between the two sends it twice — harmless, because a duplicate delivery is
recognised when it is claimed (:mod:`cds_server.jobs.claims`). Several relays (one per worker) may
run at once for the same reason. Broker I/O never happens inside a database transaction: a slow or
dead broker must not hold SQLite's single write lock.
"""

from __future__ import annotations

import logging
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from cds_server.jobs.store import Clock
from cds_server.jobs.store import utc_now
from cds_server.persistence.database import Database
from cds_server.persistence.job_tables import JobOutbox
from cds_server.persistence.job_tables import JobUnit

log = logging.getLogger(__name__)

#: rows sent per relay run (the next run takes the rest)
BATCH = 200


class BrokerUnavailable(Exception):
    """The broker refused or did not answer; the message stays in the outbox."""


class Publisher(Protocol):
    def publish(self, job_id: str, unit: int) -> None:
        """Hand one message (job id and unit number: nothing else) to the broker.

        :raise BrokerUnavailable: it was not accepted.
        """
        ...


def relay_once(database: Database, publisher: Publisher, *, clock: Clock = utc_now) -> int:
    """Send the messages that are due; returns how many went out (stops at the first broker failure)."""
    now = clock()
    with database.read() as session:
        due = session.execute(
            select(JobOutbox.id, JobOutbox.job_id, JobOutbox.unit)
            .where(JobOutbox.available_at <= now)
            .order_by(JobOutbox.id)
            .limit(BATCH)
        ).all()
    sent: list[tuple[int, str, int]] = []
    try:
        for row_id, job_id, unit in due:
            publisher.publish(job_id, unit)
            sent.append((row_id, job_id, unit))
    except BrokerUnavailable:
        log.warning("broker unavailable: %d job message(s) wait in the outbox", len(due) - len(sent))
    if sent:
        with database.write() as session:
            session.execute(delete(JobOutbox).where(JobOutbox.id.in_([row_id for row_id, _, _ in sent])))
            for _, job_id, unit in sent:
                session.execute(
                    update(JobUnit)
                    .where(JobUnit.job_id == job_id, JobUnit.unit == unit)
                    .values(last_published_at=now)
                )
    return len(sent)
