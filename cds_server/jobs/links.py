"""Signed links to a job's result page, for cards: a clinician's browser has no client JWT.

A link is ``/jobs/{id}/view?exp=…&sig=…``: an HMAC-SHA256 over the job id and the expiry, with a
key from ``CDS_JOB_LINK_SECRET`` or, when that is unset, a random key generated once and kept in the
database (so every process and host of a deployment signs alike). Whoever holds the link sees that
one job's page until it expires — as with any pre-signed URL, the card is where it lives.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from cds_server.persistence.database import Database
from cds_server.persistence.database import insert_or_ignore
from cds_server.persistence.job_tables import ServerKey

KEY_NAME = "job-link"


class LinkSigner:
    def __init__(self, key: Callable[[], bytes], *, base_url: str, ttl_s: int) -> None:
        self._key = key
        self._base = base_url
        self._ttl = ttl_s

    def url(self, job_id: str, now: datetime) -> str:
        expires = int(now.timestamp()) + self._ttl
        return f"{self._base}/jobs/{job_id}/view?exp={expires}&sig={self._sign(job_id, expires)}"

    def verify(self, job_id: str, expires: str, signature: str, now: datetime) -> bool:
        if not expires.isdigit() or len(expires) > 12 or int(expires) < now.timestamp():
            return False
        return hmac.compare_digest(self._sign(job_id, int(expires)), signature)

    def _sign(self, job_id: str, expires: int) -> str:
        return hmac.new(self._key(), f"{job_id}.{expires}".encode(), hashlib.sha256).hexdigest()


class StoredKey:
    """The configured secret, or the deployment's generated one (read once per process)."""

    def __init__(self, database: Database, configured: str, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._configured = configured.encode()
        self._clock = clock
        self._cached: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        if self._configured:
            return self._configured
        with self._lock:
            if self._cached is None:
                self._cached = self._load()
            return self._cached

    def _load(self) -> bytes:
        with self._database.write() as session:
            session.execute(
                insert_or_ignore(session, ServerKey, ["name"]).values(
                    name=KEY_NAME, value=secrets.token_hex(32), created_at=self._clock()
                )
            )
            value = session.scalar(select(ServerKey.value).where(ServerKey.name == KEY_NAME))
        assert value is not None
        return value.encode()
