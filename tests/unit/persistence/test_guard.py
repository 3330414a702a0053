"""The connect guard: a failed connect makes the next attempts fail at once, for a moment only."""

from __future__ import annotations

import pytest

from cds_server.persistence.guard import ConnectGuard
from cds_server.persistence.guard import DatabaseUnreachable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closed_until_a_connect_fails_then_open_for_the_cooldown() -> None:
    clock = Clock()
    guard = ConnectGuard(cooldown_s=1.0, clock=clock)
    guard.check()
    guard.failed()
    with pytest.raises(DatabaseUnreachable):
        guard.check()
    clock.now += 0.99
    assert guard.is_open
    clock.now += 0.02
    guard.check()


def test_a_successful_connect_closes_it() -> None:
    clock = Clock()
    guard = ConnectGuard(cooldown_s=1.0, clock=clock)
    guard.failed()
    guard.succeeded()
    guard.check()
