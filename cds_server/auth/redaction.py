"""Redaction of secrets in log records: bearer tokens, JWT-shaped strings, access tokens, canaries.

The server never logs a token on purpose; this is the net under that rule for what libraries and
future code may log. :class:`RedactingFilter` is a plain ``logging.Filter`` (install it on the Celery
worker's handlers the same way); :func:`install_redaction` also wraps the log record factory, so every
record of every logger is redacted before any handler (or pytest's caplog) sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"

_PATTERNS = (
    # a JWT (JWS compact): base64url JSON header "{"... then two more segments
    re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),
    # Authorization header values, in any casing, quoted or not
    re.compile(r"(?i)(\bbearer\s+)[^\s\"',;]+"),
    # access_token / refresh_token / id_token fields in JSON, query strings or reprs
    re.compile(r"(?i)((?:access|refresh|id)_token[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"),
)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and exception text) with secrets masked; never drops a record."""

    def __init__(self, canaries: Iterable[str] = ()) -> None:
        super().__init__()
        self.canaries = tuple(c for c in canaries if c)

    def redact(self, text: str) -> str:
        for pattern in _PATTERNS:
            text = pattern.sub(_mask, text)
        for canary in self.canaries:
            text = text.replace(canary, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_cds_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template, drop the arguments
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record._cds_redacted = True
        return True


def _mask(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.re.groups else ""
    return f"{prefix}{REDACTED}"


_installed: RedactingFilter | None = None
_lock = threading.Lock()


def install_redaction(canaries: Iterable[str] = ()) -> RedactingFilter:
    """Redact every log record of this process from now on (idempotent; canaries accumulate)."""
    global _installed  # noqa: PLW0603  one record factory per process, however many apps are built
    with _lock:
        if _installed is not None:
            _installed.canaries = tuple(dict.fromkeys((*_installed.canaries, *canaries)))
            return _installed
        redactor = RedactingFilter(canaries)
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redactor.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = redactor
        return redactor
