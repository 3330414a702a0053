"""When a resource happened, per resource type, as the raw FHIR string (parsed only for candidates)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any


def _first_string(resource: dict[str, Any], paths: tuple[tuple[str, ...], ...]) -> str | None:
    for path in paths:
        node: Any = resource
        for step in path:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, str):
            return node
    return None


def _rule(*paths: tuple[str, ...]) -> Callable[[dict[str, Any]], str | None]:
    first = paths[0][0]

    def time_of(resource: dict[str, Any]) -> str | None:
        # The first path is a top-level element for every type; it is what is usually present.
        value = resource.get(first)
        return value if isinstance(value, str) else _first_string(resource, paths)

    return time_of


#: The explicit, ordered rule per type (design §5.1): the first element present wins.
TIME_RULES: Mapping[str, Callable[[dict[str, Any]], str | None]] = {
    "Observation": _rule(
        ("effectiveDateTime",),
        ("effectivePeriod", "end"),
        ("effectivePeriod", "start"),
        ("effectiveInstant",),
        ("issued",),
    ),
    "Condition": _rule(("onsetDateTime",), ("onsetPeriod", "start"), ("recordedDate",)),
    "MedicationRequest": _rule(("authoredOn",)),
    "Encounter": _rule(("period", "start"), ("period", "end")),
    "Procedure": _rule(("performedDateTime",), ("performedPeriod", "end"), ("performedPeriod", "start")),
}
