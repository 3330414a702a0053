"""FHIRPath for ``where:`` and ``value:`` escape hatches, on already code-matched resources only.

Expressions in the fast subset (see :mod:`fhirpath_fast`) run as compiled closures; the rest run
through fhirpathpy, compiled once at load with the R4 model. Functions outside the SQL-on-FHIR
"shareable" set (plus ``not``/``count``) are refused at load so specs stay portable to a
ViewDefinition runner for training-time extraction.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cds_server.features.fhirpath_fast import NotInFastSubset
from cds_server.features.fhirpath_fast import compile_fast

ALLOWED_FUNCTIONS = frozenset({"where", "exists", "empty", "extension", "ofType", "first", "not", "count"})

_OPERATOR_WORDS = frozenset({"in", "and", "or", "xor", "implies", "is", "as", "contains", "div", "mod"})
_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'")
_FUNCTION_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")


@dataclass(frozen=True, slots=True)
class FhirPath:
    """A compiled FHIRPath expression."""

    text: str
    fast: bool
    _evaluate: Callable[[Any], list[Any]]

    def evaluate(self, node: Any) -> list[Any]:
        """Evaluate against a resource (or element) dict; may raise on malformed data."""
        return self._evaluate(node)

    def test(self, node: Any) -> bool:
        """FHIRPath truth for filters: exactly ``[true]`` passes, anything else does not."""
        return self._evaluate(node) == [True]


def compile_fhirpath(expression: str) -> FhirPath:
    """Compile ``expression``; raises ValueError with the reason when it cannot be used."""
    if not expression.strip():
        raise ValueError("empty FHIRPath expression")
    for name in _FUNCTION_CALL.findall(_STRING_LITERAL.sub("''", expression)):
        if name in _OPERATOR_WORDS:
            continue  # "x in ('a' | 'b')" is an operator before a parenthesis, not a call
        if name not in ALLOWED_FUNCTIONS:
            allowed = ", ".join(sorted(ALLOWED_FUNCTIONS))
            raise ValueError(f"FHIRPath function {name}() is not allowed here (allowed: {allowed})")
    try:
        fast = compile_fast(expression)
    except NotInFastSubset:
        return FhirPath(text=expression, fast=False, _evaluate=_compile_with_fhirpathpy(expression))
    return FhirPath(text=expression, fast=True, _evaluate=lambda node: fast([node]))


def _compile_with_fhirpathpy(expression: str) -> Callable[[Any], list[Any]]:
    # Imported here so that specs without slow-path expressions never pay for ANTLR.
    import fhirpathpy
    from fhirpathpy.models import models

    _check_syntax(expression)
    try:
        compiled = fhirpathpy.compile(expression, models["r4"])
    except Exception as exc:  # the ANTLR parser raises several unrelated types for bad syntax
        raise ValueError(f"invalid FHIRPath {expression!r}: {exc}") from exc

    def evaluate(node: Any) -> list[Any]:
        return list(compiled(node, {}))

    return evaluate


def _check_syntax(expression: str) -> None:
    """Raise ValueError on a syntax error.

    fhirpathpy's parser only logs syntax errors and compiles what it could read (``status =
    'final`` compiles), so its grammar is run here with a listener that raises instead.
    """
    from antlr4 import CommonTokenStream  # type: ignore[import-untyped]
    from antlr4 import InputStream
    from antlr4 import Token
    from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class _Raise(ErrorListener):  # type: ignore[misc]
        def syntaxError(  # noqa: N802, PLR0917  (the ANTLR listener interface)
            self, recognizer: Any, symbol: Any, line: int, column: int, msg: str, e: Any
        ) -> None:
            raise ValueError(f"invalid FHIRPath {expression!r} at column {column}: {msg}")

    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    parser.expression()
    if parser.getCurrentToken().type != Token.EOF:
        raise ValueError(f"invalid FHIRPath {expression!r}: unexpected {parser.getCurrentToken().text!r}")
