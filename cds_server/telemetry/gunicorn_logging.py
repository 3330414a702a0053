"""gunicorn's own log lines as JSON, for ``CDS_LOG_FORMAT=json``: its error log through our formatter,
and one JSON object per request on the access log (method, path, status, size, duration, request id)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from gunicorn import glogging

from cds_server.telemetry.logs import EXTRA
from cds_server.telemetry.logs import JsonFormatter


class JsonGunicornLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn has no type hints
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        fields = {
            "event": "http",
            "method": atoms.get("m"),
            # the path only: query strings may carry identifiers (no PHI in URLs is the rule, this the net)
            "path": atoms.get("U"),
            "status": _int(atoms.get("s")),
            "bytes": _int(atoms.get("B")),
            "ms": round(request_time.total_seconds() * 1000, 3),
            "request_id": atoms.get("{x-request-id}o"),
            "remote": atoms.get("h"),
        }
        self.access_log.info(
            "%s %s %s", fields["method"], fields["path"], fields["status"], extra={EXTRA: fields}
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
