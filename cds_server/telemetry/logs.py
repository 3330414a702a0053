"""Log lines of the server's processes: ``text`` for people, ``json`` (one object per line) for collectors.

:func:`configure_logging` is called by the entry points (``cds-server serve`` and its gunicorn workers,
``cds-server worker``, ``cds_server.wsgi``), never by :func:`cds_server.create_app`: an application
factory that tests build hundreds of times must not add handlers. Every line carries the request id
when there is one. The redaction of tokens (:mod:`cds_server.auth.redaction`) happens when a record is
created, before any handler, so it holds for both formats. An exception is logged as its type and
frames only: its message may quote request content.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC
from datetime import datetime
from typing import IO
from typing import Any

import orjson

#: ``extra={"cds": {...}}`` fields become top-level keys of a JSON line (content-free values only)
EXTRA = "cds"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (``-`` outside a request) to every record a handler sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _current_request_id()
        return True


def _current_request_id() -> str:
    from flask import g
    from flask import has_request_context

    if has_request_context():
        return str(g.get("request_id", "-"))
    return "-"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            line["request_id"] = request_id
        extra = getattr(record, EXTRA, None)
        if isinstance(extra, dict):
            line.update({key: value for key, value in extra.items() if key not in line})
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            line["exc_type"] = kind.__name__
            line["exc_frames"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
                for frame in traceback.extract_tb(tb)
            ]
        return orjson.dumps(line, default=str).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (it may be replaced after start-up)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _: IO[str]) -> None:
        pass


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(
    log_format: str,
    *,
    level: str | None = None,
    app_level: str | None = None,
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Install this process's one root handler in ``log_format`` (replacing an earlier one).

    ``level`` sets the root logger's (every library's) level, ``app_level`` the ``cds_server`` loggers'
    (``CDS_LOG_LEVEL``; :func:`cds_server.create_app` sets it too).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_cds_handler", False):
            root.removeHandler(handler)
    ours: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    ours._cds_handler = True  # type: ignore[attr-defined]
    ours.setFormatter(formatter_for(log_format))
    ours.addFilter(RequestIdFilter())
    root.addHandler(ours)
    if level is not None:
        root.setLevel(level.upper())
    if app_level is not None:
        logging.getLogger("cds_server").setLevel(app_level.upper())
    return ours
