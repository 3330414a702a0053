"""Whether the job broker answers, for ``/readyz``.

The web server never needs the broker to accept a job (the job and its outbox row are committed
together; workers relay them), so a broker outage makes the server *degraded*, not unready: jobs wait
and run once it is back. The reason says what failed, never the URL (it may hold a password).
"""

from __future__ import annotations

from typing import Any

from cds_server.config import Settings
from cds_server.tasks.celery_app import broker_url

#: a readiness probe must answer quickly even when the broker's host drops packets
PROBE_TIMEOUT_S = 1.0


def broker_status(settings: Settings) -> dict[str, Any]:
    url = broker_url(settings)
    scheme = url.partition("://")[0]
    if scheme.startswith("sqla+"):
        # kombu's SQLAlchemy transport on the database (or a file beside it): as ready as the database
        return {"ok": True, "kind": "embedded"}
    try:
        if scheme in ("redis", "rediss"):
            _ping_redis(url)
        else:
            _ping_kombu(url)
    except Exception as error:  # any failure to reach it is "not reachable", with the kind of failure
        return {"ok": False, "kind": scheme, "reason": f"broker not reachable ({type(error).__name__})"}
    return {"ok": True, "kind": scheme}


def _ping_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT_S, socket_timeout=PROBE_TIMEOUT_S)
    try:
        client.ping()
    finally:
        client.close()


def _ping_kombu(url: str) -> None:
    from kombu.connection import Connection

    with Connection(url, connect_timeout=PROBE_TIMEOUT_S) as connection:  # type: ignore[no-untyped-call]
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=PROBE_TIMEOUT_S
        )
