"""The real app behind a real threaded HTTP server on a loopback port, for concurrency tests.

Flask's test client runs each request in the calling thread; that is enough for one request at a
time, but concurrent calls should go through sockets and a server's own threads, as in production.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import TypeVar

import httpx
from flask import Flask
from werkzeug.serving import make_server

from cds_server.state import get_state
from tests.support.clients import JwtAuth

T = TypeVar("T")


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.public_base_url = get_state(app).settings.public_base_url
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="live-server"
        )
        self._thread.start()

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for it that signs each call as a test EHR client (``auth=None``: it does not).

        Share one between threads (httpx clients are thread-safe, and each new one builds an SSL
        context, ~40 ms).
        """
        kwargs.setdefault("auth", JwtAuth(self.public_base_url))
        return httpx.Client(base_url=self.url, timeout=10, limits=httpx.Limits(max_connections=64), **kwargs)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


def in_parallel(work: Callable[[T], Any], items: Iterable[T], *, threads: int = 16) -> list[Any]:
    """``work(item)`` for every item on ``threads`` threads; results in the items' order."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(work, items))
