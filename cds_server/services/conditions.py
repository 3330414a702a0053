"""Card conditions: comparisons joined by ``and``/``or``/``not`` over feature and output names.

``risk_10y >= 0.075 and on_statin == 0`` compiles, with :mod:`ast`, into a closure; operands are
arithmetic expressions compiled by the mapping engine's own (never ``eval``) compiler. A comparison
involving a missing value (NaN) is false, so a condition never fires on data that is not there.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from collections.abc import Collection
from collections.abc import Mapping

from cds_server.features.expressions import compile_expression

Environment = Mapping[str, float]
Condition = Callable[[Environment], bool]

_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def compile_condition(text: str, known_names: Collection[str]) -> Condition:
    """Compile ``text``; :raise ValueError: naming the construct that is not allowed."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse condition {text!r}: {exc.msg}") from None
    return _condition(tree.body, known_names)


def _condition(node: ast.expr, known: Collection[str]) -> Condition:
    if isinstance(node, ast.BoolOp):
        parts = [_condition(value, known) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: all(part(env) for part in parts)
        return lambda env: any(part(env) for part in parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _condition(node.operand, known)
        return lambda env: not inner(env)
    if isinstance(node, ast.Compare):
        return _comparison(node, known)
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        constant = node.value
        return lambda env: constant
    raise ValueError(f"a condition must compare values, not {ast.unparse(node)!r}")


def _comparison(node: ast.Compare, known: Collection[str]) -> Condition:
    operands = [compile_expression(ast.unparse(part), known) for part in (node.left, *node.comparators)]
    tests = []
    for op in node.ops:
        if type(op) not in _COMPARE:
            raise ValueError(f"comparison {type(op).__name__} is not allowed")
        tests.append(_COMPARE[type(op)])

    def evaluate(env: Environment) -> bool:
        values = [operand.evaluate(env) for operand in operands]
        if any(math.isnan(value) for value in values):  # the data is not there
            return False
        return all(test(values[i], values[i + 1]) for i, test in enumerate(tests))

    return evaluate
