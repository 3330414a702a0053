"""Running the app under gunicorn from Python, so ``cds-server serve`` is one command everywhere."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


class GunicornServer(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints: Any base
    """gunicorn with our settings; each worker builds its own app (models, pools) after the fork."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        from cds_server import create_app

        return create_app()


def serve(
    *, host: str, port: int, workers: int, threads: int, timeout: int = 10, log_format: str = "text"
) -> None:
    from cds_server.telemetry.multiprocess import worker_exited

    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        # well above the 2.5 s hook deadline, well below gunicorn's default 30 s
        "timeout": timeout,
        "graceful_timeout": 20,
        "keepalive": 5,
        "accesslog": "-",
        # method, path, status, size, duration, request id: no query strings, no other headers
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms %({x-request-id}o)s',
        "errorlog": "-",
        # the control socket is a fixed path in $HOME: two servers on one machine would collide
        "control_socket_disable": True,
        # a dead worker's live gauges leave the metrics (its counters still count)
        "child_exit": worker_exited,
    }
    if log_format == "json":
        from cds_server.telemetry.gunicorn_logging import JsonGunicornLogger

        options["logger_class"] = JsonGunicornLogger
    GunicornServer(options).run()
