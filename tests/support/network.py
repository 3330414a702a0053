"""Proving that code made no outbound connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


@contextmanager
def record_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Record (and refuse) every socket connection attempted inside the block."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise ConnectionRefusedError("outbound connections are forbidden in this test")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: guarded_connect(None, address))  # type: ignore[arg-type]
    try:
        yield attempts
    finally:
        monkeypatch.setattr(socket.socket, "connect", real_connect)
