"""Security events: a refused authentication goes to the security log and the audit database.

What is recorded: the reason code, the endpoint, the issuer when it is a registered one (an unknown
``iss`` is attacker-chosen text, so only its SHA-256 is kept), the ``kid``, the SHA-256 of
``iss|jti``, the request id and the peer address. Never the token, never a claim value beyond those.

Both sinks are rate-limited per process (a flood of bad tokens must not become a flood of log lines
and rows): past the limit, events are counted and the next one written says how many were dropped.
Writing the row is best effort; the caller answers 401 either way.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime

from sqlalchemy import insert

from cds_server.auth.ratelimit import Limit
from cds_server.auth.ratelimit import LocalRateLimiter
from cds_server.errors import DatabaseUnavailable
from cds_server.persistence.database import Database
from cds_server.persistence.models import SecurityEvent

log = logging.getLogger("cds_server.security")

#: events written per second per process, and the burst allowed
EVENT_LIMIT = Limit(per_s=5.0, burst=20)
_UNSAFE = re.compile(r"[^A-Za-z0-9._:/@+=#-]")


@dataclass(frozen=True)
class SecurityFact:
    kind: str
    reason: str
    endpoint: str
    request_id: str
    issuer: str | None = None
    claimed_issuer: str | None = None
    kid: str | None = None
    jti_hash: str | None = None
    source_ip: str | None = None


def printable(text: str | None, limit: int = 128) -> str | None:
    """Attacker-supplied text made safe for one log line (no newlines or control characters)."""
    return None if text is None else _UNSAFE.sub("?", text)[:limit]


class SecurityEvents:
    def __init__(self, database: Database | None, *, clock: Callable[[], datetime] | None = None) -> None:
        self._db = database
        self._clock = clock or (lambda: datetime.now(UTC))
        self._limiter = LocalRateLimiter()
        self._suppressed = 0
        self._lock = threading.Lock()

    def record(self, fact: SecurityFact) -> None:
        if self._limiter.acquire("events", EVENT_LIMIT) > 0:
            with self._lock:
                self._suppressed += 1
            return
        with self._lock:
            suppressed, self._suppressed = self._suppressed, 0
        claimed_hash = (
            hashlib.sha256(fact.claimed_issuer.encode()).hexdigest()
            if fact.claimed_issuer is not None and fact.issuer is None
            else None
        )
        kid = printable(fact.kid)
        log.warning(
            "%s refused: reason=%s endpoint=%s issuer=%s claimed_issuer_sha256=%s kid=%s jti_sha256=%s "
            "request_id=%s suppressed=%d",
            fact.kind,
            fact.reason,
            fact.endpoint,
            printable(fact.issuer, 256),
            claimed_hash[:16] if claimed_hash else None,
            kid,
            fact.jti_hash,
            fact.request_id,
            suppressed,
        )
        if self._db is None:
            return
        try:
            with self._db.write() as session:
                session.execute(
                    insert(SecurityEvent).values(
                        recorded_at=self._clock(),
                        request_id=fact.request_id,
                        kind=fact.kind,
                        reason=fact.reason[:64],
                        endpoint=fact.endpoint[:64],
                        issuer=fact.issuer,
                        claimed_issuer_sha256=claimed_hash,
                        kid=kid,
                        jti_sha256=fact.jti_hash,
                        source_ip=(fact.source_ip or "")[:64] or None,
                        suppressed=suppressed,
                    )
                )
        except DatabaseUnavailable:
            log.warning("security event not stored: database unavailable")
