from __future__ import annotations

import math
import re

import pytest

from cds_server.features.expressions import compile_expression

NAMES = ("a", "b", "c")


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("a + b * 2", {"a": 1.0, "b": 3.0}, 7.0),
        ("(a + b) / 2", {"a": 1.0, "b": 3.0}, 2.0),
        ("-a ** 2", {"a": 3.0}, -9.0),
        ("+a", {"a": 3.0}, 3.0),
        ("ln(a)", {"a": math.e}, 1.0),
        ("log10(a)", {"a": 1000.0}, 3.0),
        ("exp(0)", {}, 1.0),
        ("sqrt(a)", {"a": 16.0}, 4.0),
        ("abs(a)", {"a": -2.0}, 2.0),
        ("min(a, b, c)", {"a": 3.0, "b": math.nan, "c": 1.0}, 1.0),
        ("max(a, b)", {"a": math.nan, "b": 2.0}, 2.0),
        ("coalesce(a, b, c)", {"a": math.nan, "b": 5.0, "c": 6.0}, 5.0),
        ("clip(a, 0, 10)", {"a": 12.0}, 10.0),
        ("above(a, 21)", {"a": 30.0}, 1.0),
        ("above(a, 21)", {"a": 21.0}, 0.0),
        ("below(a, 21)", {"a": 20.0}, 1.0),
    ],
)
def test_arithmetic(text: str, env: dict[str, float], expected: float) -> None:
    assert compile_expression(text, NAMES).evaluate(env) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ("a / b", {"a": 1.0, "b": 0.0}),
        ("ln(a)", {"a": 0.0}),
        ("ln(a)", {"a": -1.0}),
        ("sqrt(a)", {"a": -1.0}),
        ("exp(a)", {"a": 1e6}),
        ("a ** 0.5", {"a": -4.0}),
        ("a ** b", {"a": 10.0, "b": 400.0}),
        ("a ** 0", {"a": math.nan}),
        ("a + 1", {"a": math.nan}),
        ("above(a, 1)", {"a": math.nan}),
        ("coalesce(a, b)", {"a": math.nan, "b": math.nan}),
        ("max(a, b)", {"a": math.nan, "b": math.nan}),
    ],
)
def test_undefined_arithmetic_is_nan(text: str, env: dict[str, float]) -> None:
    assert math.isnan(compile_expression(text, NAMES).evaluate(env))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("d + 1", "'d' is not an earlier feature"),
        ("__import__('os').system('true')", "only these functions"),
        ("a.real", "Attribute"),
        ("a if b else c", "IfExp"),
        ("a < b", "Compare"),
        ("a and b", "BoolOp"),
        ("[a]", "List"),
        ("'text'", "only numbers"),
        ("True", "only numbers"),
        ("ln(a, b)", "called with 2 arguments"),
        ("min(a)", "called with 1 arguments"),
        ("ln(x=a)", "plain positional"),
        ("ln(*a)", "plain positional"),
        ("a % b", "BinOp"),
        ("lambda: 1", "Lambda"),
        ("a +", "cannot parse"),
    ],
)
def test_refused_constructs(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        compile_expression(text, NAMES)


def test_names_used_are_reported_once_in_order() -> None:
    assert compile_expression("b + a * b", NAMES).names == ("b", "a")
