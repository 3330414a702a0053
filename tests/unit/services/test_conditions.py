"""Card conditions compile to closures; nothing outside comparisons and boolean logic is allowed."""

from __future__ import annotations

import math

import pytest

from cds_server.services.conditions import compile_condition

NAMES = {"risk", "on_statin", "age"}


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("risk >= 0.075 and on_statin == 0", {"risk": 0.08, "on_statin": 0.0}, True),
        ("risk >= 0.075 and on_statin == 0", {"risk": 0.08, "on_statin": 1.0}, False),
        ("risk >= 0.075 or on_statin == 1", {"risk": 0.01, "on_statin": 1.0}, True),
        ("not risk < 0.05", {"risk": 0.05}, True),
        ("40 <= age < 80", {"age": 79.9}, True),
        ("40 <= age < 80", {"age": 80.0}, False),
        ("risk * 100 > 7.5", {"risk": 0.08}, True),
        ("risk != 0", {"risk": 0.0}, False),
    ],
)
def test_conditions(text: str, env: dict[str, float], expected: bool) -> None:
    assert compile_condition(text, NAMES)(env) is expected


def test_a_missing_value_never_satisfies_a_comparison() -> None:
    for text in ("risk >= 0.075", "risk < 0.075", "not risk < 0.075 and age > 0"):
        condition = compile_condition(text, NAMES)
        assert condition({"risk": math.nan, "age": 50}) is (text.startswith("not"))


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os')",
        "risk",
        "risk.real > 0",
        "[risk] == [1]",
        "unknown > 1",
        "risk is None",
        "risk in (1, 2)",
        "lambda: 1",
    ],
)
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies with the construct
        compile_condition(text, NAMES)
