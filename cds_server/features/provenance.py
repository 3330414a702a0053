"""Provenance: which resources made a feature, which were left out and why.

Everything here is plain data that turns into JSON with ``as_dict()``; cards quote it ("latest
systolic BP 142 mm[Hg] on 2024-05-01") and the audit log stores it whole. Treat it as read-only:
the classes are not frozen only because frozen dataclasses cost ~6x more to build, and dozens are
built per request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ExclusionReason(StrEnum):
    """Why a resource that matched a feature's codes did not count."""

    WRONG_PATIENT = "wrong-patient"
    STATUS = "status"
    NO_TIME = "no-time"
    OUT_OF_WINDOW = "out-of-window"
    AFTER_REFERENCE_TIME = "after-reference-time"
    FILTERED = "filtered"
    NO_VALUE = "no-value"
    UNKNOWN_UNIT = "unknown-unit"
    IMPLAUSIBLE = "implausible"
    UNMAPPED_CODE = "unmapped-code"
    EXPRESSION_ERROR = "expression-error"
    UNRESOLVED_MEDICATION = "unresolved-medication"
    DUPLICATE_PATIENT = "duplicate-patient"


class FeatureStatus(StrEnum):
    OBSERVED = "observed"
    DERIVED = "derived"
    IMPUTED = "imputed"
    MISSING = "missing"


@dataclass(slots=True)
class Contribution:
    """One value that went into a feature."""

    resource: str
    key: str
    time: str | None
    value: float
    raw_value: float | str | None = None
    raw_unit: str | None = None
    unit_from: str | None = None
    component: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": self.resource, "key": self.key, "time": self.time}
        out["value"] = _json_number(self.value)
        optional = {
            "rawValue": self.raw_value,
            "rawUnit": self.raw_unit,
            "unitFrom": self.unit_from,
            "component": self.component,
            "detail": self.detail,
        }
        out.update({name: value for name, value in optional.items() if value is not None})
        return out


@dataclass(slots=True)
class Exclusion:
    """A matching resource that was left out, and why."""

    resource: str
    reason: ExclusionReason
    detail: str
    key: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"resource": self.resource, "reason": self.reason.value, "detail": self.detail}
        if self.key is not None:
            out["key"] = self.key
        return out


@dataclass(slots=True)
class FeatureProvenance:
    """How one feature got its value."""

    name: str
    value: float
    status: FeatureStatus
    is_input: bool
    unit: str | None = None
    aggregation: str | None = None
    window: str | None = None
    contributions: tuple[Contribution, ...] = ()
    exclusions: tuple[Exclusion, ...] = ()
    missing_reason: str | None = None
    derived_from: tuple[tuple[str, float], ...] = ()
    indicator_of: str | None = None

    @property
    def imputed(self) -> bool:
        return self.status is FeatureStatus.IMPUTED

    @property
    def missing(self) -> bool:
        """True when the data did not give a value (whether or not one was imputed)."""
        return self.status in (FeatureStatus.MISSING, FeatureStatus.IMPUTED)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": _json_number(self.value),
            "status": self.status.value,
            "input": self.is_input,
        }
        optional: dict[str, Any] = {
            "unit": self.unit,
            "aggregation": self.aggregation,
            "window": self.window,
            "missingReason": self.missing_reason,
            "indicatorOf": self.indicator_of,
        }
        out.update({name: value for name, value in optional.items() if value is not None})
        out["contributions"] = [c.as_dict() for c in self.contributions]
        out["exclusions"] = [e.as_dict() for e in self.exclusions]
        if self.derived_from:
            out["derivedFrom"] = {name: _json_number(value) for name, value in self.derived_from}
        return out


def _json_number(value: float) -> float | None:
    # NaN is not JSON; audit rows and cards need null instead.
    return None if math.isnan(value) else float(value)
