"""The Celery app of a worker, configured for at-least-once jobs that always end.

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged after its task returns,
  and given back when the pool child running it dies (SIGKILL, OOM) — the job is redelivered, not lost;
* ``worker_prefetch_multiplier=1``: a worker holds no more messages than it runs;
* soft and hard time limits below the broker's visibility timeout (checked in ``config.py``), so a
  message never comes back while its task may still be running;
* the database attempt counter and the reaper (``cds_server.jobs``) stop poison loops and cover
  workers that vanished, whatever the broker does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from cds_server.config import Settings
from cds_server.persistence.database import database_url

TASK_NAME = "cds.jobs.run"
#: Redis: seconds to connect before a publish or a worker's reconnect gives up (then retries later)
BROKER_CONNECT_TIMEOUT_S = 2


def broker_url(settings: Settings) -> str:
    """``CDS_BROKER_URL``, or the embedded broker: kombu's SQLAlchemy transport on the database.

    A SQLite database gets a broker file of its own beside it (``<name>-broker.db``): the broker
    polls, and polling the application's file would compete with audit writes for SQLite's one
    write lock.
    """
    if settings.broker_url:
        return settings.broker_url
    url = database_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        path = Path(url.database)
        broker_file = path.with_name(f"{path.stem}-broker{path.suffix or '.db'}")
        return f"sqla+sqlite:///{broker_file}"
    return "sqla+" + url.render_as_string(hide_password=False)


def celery_config(settings: Settings) -> dict[str, Any]:
    url = broker_url(settings)
    transport: dict[str, Any] = {}
    if url.startswith(("redis://", "rediss://")):
        transport = {
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "unacked_restore_interval": settings.broker_restore_interval_s,
            # scan on every interval: with a short visibility timeout, the default (1 scan in 10) makes
            # redelivery take ten times longer
            "unacked_restore_throttle": 1,
            "socket_connect_timeout": BROKER_CONNECT_TIMEOUT_S,
        }
    elif url.startswith(("amqp://", "amqps://", "pyamqp://")):
        transport = {"confirm_publish": True}
    return {
        "broker_url": url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": BROKER_CONNECT_TIMEOUT_S,
        "task_default_queue": settings.job_queue,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.job_soft_time_limit_s,
        "task_time_limit": settings.job_time_limit_s,
        # results live in our tables; nothing (and no PHI) goes to a result backend
        "task_ignore_result": True,
        "result_backend": None,
        "result_extended": False,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        # a warm shutdown phase requeues late-ack messages instead of dropping them
        "worker_soft_shutdown_timeout": min(10.0, float(settings.job_soft_time_limit_s)),
    }


def make_celery(app: Flask) -> Any:
    """The Celery app of this Flask app, with the job task registered; tasks run in the app context."""
    from celery import Celery
    from celery import Task

    from cds_server.state import get_state
    from cds_server.tasks.jobs import register_tasks

    settings = get_state(app).settings

    class FlaskTask(Task):  # type: ignore[misc]  # Celery has no type hints
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery("cds_server", task_cls=FlaskTask, set_as_current=False)
    celery.conf.update(celery_config(settings))
    celery.flask_app = app
    register_tasks(celery)
    app.extensions["celery"] = celery
    return celery
