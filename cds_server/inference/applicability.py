"""Whether a model may score these inputs at all.

A risk equation evaluated outside the population it was derived in still returns a number, and
that number looks as precise as any other. The card therefore states, per input, the values it is
valid for (``allowed_values`` for codes and flags, an inclusive ``applicable_range`` for
measurements); outside them there is no score, only the reasons.

Reasons name the input, the limit and why, never the patient's value, so they can be logged and
audited without carrying PHI; the card that explains them shows the values anyway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cds_server.inference.card import InputSpec
from cds_server.inference.card import ModelCard


def check_applicability(card: ModelCard, named_values: Mapping[str, float]) -> list[str]:
    """Reasons this model must not score these values; an empty list means it may."""
    reasons: list[str] = []
    for spec in card.inputs:
        value = named_values.get(spec.name)
        reason = _reason(spec, value)
        if reason is not None:
            reasons.append(reason)
    return reasons


def inapplicable_rows(card: ModelCard, matrix: NDArray[Any]) -> tuple[tuple[str, ...], ...]:
    """:func:`check_applicability` for each row of a ``(batch, width)`` matrix, vectorised by column."""
    reasons: list[list[str]] = [[] for _ in range(matrix.shape[0])]
    for column, spec in enumerate(card.inputs):
        values = matrix[:, column].astype(np.float64)
        finite = np.isfinite(values)
        for row in np.flatnonzero(~finite):
            reasons[row].append(_missing(spec))
        if spec.allowed_values is not None:
            bad = finite & ~np.isin(values, spec.allowed_values)
            for row in np.flatnonzero(bad):
                reasons[row].append(_not_allowed(spec))
        bounds = spec.applicable_range
        if bounds is not None:
            low = -np.inf if bounds.min is None else bounds.min
            high = np.inf if bounds.max is None else bounds.max
            for row in np.flatnonzero(finite & ((values < low) | (values > high))):
                reasons[row].append(_out_of_range(spec))
    return tuple(tuple(row) for row in reasons)


def _reason(spec: InputSpec, value: float | None) -> str | None:
    if value is None or not math.isfinite(value):
        return _missing(spec)
    if spec.allowed_values is not None and value not in spec.allowed_values:
        return _not_allowed(spec)
    if spec.applicable_range is not None and not spec.applicable_range.contains(value):
        return _out_of_range(spec)
    return None


def _missing(spec: InputSpec) -> str:
    return f"{spec.name} is missing or not a finite number"


def _not_allowed(spec: InputSpec) -> str:
    assert spec.allowed_values is not None
    allowed = ", ".join(f"{value:g}" for value in spec.allowed_values)
    return f"{spec.name} must be one of {allowed}"


def _out_of_range(spec: InputSpec) -> str:
    bounds = spec.applicable_range
    assert bounds is not None
    unit = "" if spec.unit in ("1", "") else f" {_unit_label(spec.unit)}"
    return f"{spec.name} is outside {bounds.describe()}{unit}: {bounds.reason}"


def _unit_label(ucum: str) -> str:
    # Readers of a card know "years", not the UCUM code "a".
    return {"a": "years", "mm[Hg]": "mmHg", "/min": "/min", "Cel": "°C", "%": "%"}.get(ucum, ucum)
