"""What reading one value out of one resource produces: a number, or a reason it could not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_server.features.provenance import ExclusionReason


@dataclass(slots=True)
class Reading:
    value: float
    raw_value: float | str | None = None
    raw_unit: str | None = None
    unit_from: str | None = None
    detail: str | None = None


@dataclass(slots=True)
class Rejection:
    reason: ExclusionReason
    detail: str


#: ``reader(resource, component_or_None, now)``: how a feature turns a matched resource into a value.
ValueReader = Callable[[dict[str, Any], dict[str, Any] | None, datetime], Reading | Rejection]
