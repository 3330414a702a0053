"""Derived features: a tiny arithmetic language compiled to closures with :mod:`ast`.

Allowed: numbers, names of earlier features, ``+ - * / **``, unary ``-``/``+``, parentheses and
the functions in :data:`FUNCTIONS`. Nothing is ever passed to ``eval``: the parsed tree is
checked node by node and turned into nested closures. Any arithmetic failure (division by zero,
log of a non-positive number, overflow) yields NaN, which the missing-value policy then handles.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping
from dataclasses import dataclass

Environment = Mapping[str, float]
Closure = Callable[[Environment], float]

NAN = math.nan


def _finite_or_nan(value: float) -> float:
    return value if math.isfinite(value) else NAN


def _ln(x: float) -> float:
    return math.log(x) if x > 0 else NAN


def _log10(x: float) -> float:
    return math.log10(x) if x > 0 else NAN


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else NAN


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return NAN


def _min(*values: float) -> float:
    # NaN-ignoring, so min/max can combine alternative sources of the same fact.
    present = [value for value in values if not math.isnan(value)]
    return min(present) if present else NAN


def _max(*values: float) -> float:
    present = [value for value in values if not math.isnan(value)]
    return max(present) if present else NAN


def _coalesce(*values: float) -> float:
    return next((value for value in values if not math.isnan(value)), NAN)


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high) if not math.isnan(x) else NAN


def _above(x: float, threshold: float) -> float:
    return NAN if math.isnan(x) or math.isnan(threshold) else float(x > threshold)


def _below(x: float, threshold: float) -> float:
    return NAN if math.isnan(x) or math.isnan(threshold) else float(x < threshold)


@dataclass(frozen=True, slots=True)
class _Function:
    call: Callable[..., float]
    min_args: int
    max_args: int | None


#: The whitelisted functions, with their arity.
FUNCTIONS: Mapping[str, _Function] = {
    "ln": _Function(_ln, 1, 1),
    "log10": _Function(_log10, 1, 1),
    "exp": _Function(_exp, 1, 1),
    "sqrt": _Function(_sqrt, 1, 1),
    "abs": _Function(abs, 1, 1),
    "min": _Function(_min, 2, None),
    "max": _Function(_max, 2, None),
    "coalesce": _Function(_coalesce, 2, None),
    "clip": _Function(_clip, 3, 3),
    "above": _Function(_above, 2, 2),
    "below": _Function(_below, 2, 2),
}

_BINARY: Mapping[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


@dataclass(frozen=True, slots=True)
class Derivation:
    """A compiled expression and the feature names it reads."""

    text: str
    names: tuple[str, ...]
    _closure: Closure

    def evaluate(self, env: Environment) -> float:
        return self._closure(env)


def compile_expression(text: str, known_names: Collection[str]) -> Derivation:
    """Compile ``text``; raises ValueError naming the offending construct."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {text!r}: {exc.msg}") from exc
    used: list[str] = []
    closure = _compile(tree.body, known_names, used)
    return Derivation(text=text, names=tuple(dict.fromkeys(used)), _closure=closure)


def _compile(node: ast.expr, known: Collection[str], used: list[str]) -> Closure:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ValueError(f"only numbers may appear as constants, not {node.value!r}")
        constant = float(node.value)
        return lambda env: constant
    if isinstance(node, ast.Name):
        if node.id not in known:
            raise ValueError(f"{node.id!r} is not an earlier feature")
        used.append(node.id)
        name = node.id
        return lambda env: env[name]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _compile(node.operand, known, used)
        if isinstance(node.op, ast.USub):
            return lambda env: -operand(env)
        return operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _binary(
            _BINARY[type(node.op)], _compile(node.left, known, used), _compile(node.right, known, used)
        )
    if isinstance(node, ast.Call):
        return _call(node, known, used)
    raise ValueError(f"{type(node).__name__} is not allowed in a derived expression")


def _binary(op: Callable[[float, float], float], left: Closure, right: Closure) -> Closure:
    def evaluate(env: Environment) -> float:
        a, b = left(env), right(env)
        if math.isnan(a) or math.isnan(b):
            return NAN  # even where Python would not (nan ** 0 == 1.0)
        try:
            result = op(a, b)
        except (ZeroDivisionError, OverflowError, ValueError):
            return NAN
        # A negative base to a fractional power gives a complex number: not a feature value.
        return _finite_or_nan(result) if isinstance(result, float | int) else NAN

    return evaluate


def _call(node: ast.Call, known: Collection[str], used: list[str]) -> Closure:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise ValueError(f"only these functions are allowed: {allowed}")
    if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
        raise ValueError(f"{node.func.id}() takes plain positional arguments")
    spec = FUNCTIONS[node.func.id]
    count = len(node.args)
    if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
        raise ValueError(f"{node.func.id}() called with {count} arguments")
    arguments = [_compile(arg, known, used) for arg in node.args]
    function = spec.call

    def evaluate(env: Environment) -> float:
        values = [argument(env) for argument in arguments]
        if function not in (_min, _max, _coalesce) and any(math.isnan(value) for value in values):
            return NAN
        try:
            return _finite_or_nan(float(function(*values)))
        except (OverflowError, ValueError):
            return NAN

    return evaluate
