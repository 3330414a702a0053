"""Screening the candidates of one source feature: the per-candidate half of the hot path.

Order per candidate: patient check, status gate, time (parsed only now, once per resource),
window, ``where``, value and unit, plausibility range. The first failure becomes an
:class:`Exclusion`; nothing about the data can make this raise.
"""

from __future__ import annotations

import math
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from cds_server.features.aggregate import Point
from cds_server.features.fhirtime import Duration
from cds_server.features.fhirtime import parse_fhir_datetime
from cds_server.features.plan import MappingPlan
from cds_server.features.plan import SourceFeature
from cds_server.features.provenance import Exclusion
from cds_server.features.provenance import ExclusionReason
from cds_server.features.readings import Reading
from cds_server.features.references import belongs_to
from cds_server.features.references import resource_label
from cds_server.features.resource_time import TIME_RULES
from cds_server.features.scan import Candidate
from cds_server.features.scan import Scan

#: EHR clocks and ours disagree by seconds to minutes; a vital sign stamped two minutes "in the
#: future" is still the latest one, not an error.
CLOCK_SKEW = timedelta(minutes=5)


_NOTHING: frozenset[str] = frozenset()
_NO_LOWER_BOUND = datetime.min.replace(tzinfo=UTC)
_UNBOUNDED = (-math.inf, math.inf)
_Problem = tuple[ExclusionReason, str]
#: (patient problem, raw time, parsed time) of one resource, computed once per request.
_Facts = tuple[_Problem | None, str | None, datetime | None]


class RequestContext:
    """What every feature of one extraction shares: the reference time, the patient, caches."""

    def __init__(self, scan: Scan, *, now: datetime, patient_id: str | None) -> None:
        self.now = now
        self.patient_id = patient_id
        self.latest_allowed = now + CLOCK_SKEW
        # The two spellings nearly every subject uses, checked before the general rule.
        self.own_references = {f"Patient/{patient_id}", f"urn:uuid:{patient_id}"} if patient_id else set()
        self.facts: dict[int, _Facts] = scan.facts
        self._window_starts: dict[str, datetime] = {}

    def window_start(self, window: Duration | None) -> datetime | None:
        if window is None:
            return None
        start = self._window_starts.get(window.text)
        if start is None:
            start = self._window_starts[window.text] = window.before(self.now)
        return start

    def facts_of(self, resource: dict[str, Any], resource_type: str) -> _Facts:
        # Several features often read one resource (a BP panel feeds SBP, DBP, counts...).
        raw = TIME_RULES[resource_type](resource)
        patient_problem: _Problem | None = None
        if self.patient_id is not None:
            subject = resource.get("subject")
            reference = subject.get("reference") if isinstance(subject, dict) else None
            own = reference in self.own_references if isinstance(reference, str) else False
            if not own and not belongs_to(resource, self.patient_id):
                detail = f"subject {reference!r} is not Patient/{self.patient_id}"
                patient_problem = (ExclusionReason.WRONG_PATIENT, detail)
        facts = (patient_problem, raw, parse_fhir_datetime(raw))
        self.facts[id(resource)] = facts
        return facts


class _Screen:
    """The checks of one source feature for one candidate, in order; the first failure wins."""

    def __init__(self, feature: SourceFeature, request: RequestContext) -> None:
        self.feature = feature
        self.request = request
        self.window_start = request.window_start(feature.window)
        self.needs_time = self.window_start is not None or feature.aggregation.needs_time
        self.low, self.high = feature.value_range or (-math.inf, math.inf)

    def screen(self, candidate: Candidate) -> tuple[datetime | None, Reading, str | None] | Exclusion:
        resource, component, key, _ = candidate
        request = self.request
        facts = request.facts.get(id(resource)) or request.facts_of(resource, self.feature.resource_type)
        problem, raw_time, moment = facts
        if problem is None:
            status = self.feature.gate.check(resource)
            if status is not None:
                problem = (ExclusionReason.STATUS, status)
            else:
                problem = self._time_problem(raw_time, moment) or self._where_problem(resource)
        if problem is None:
            reading = self.feature.reader(resource, component, request.now)
            if isinstance(reading, Reading):
                if self.low <= reading.value <= self.high:
                    return moment, reading, raw_time
                bounds = (self.low, self.high)
                problem = (
                    ExclusionReason.IMPLAUSIBLE,
                    range_problem(reading.value, self.feature.unit, bounds),
                )
            else:
                problem = (reading.reason, reading.detail)
        return Exclusion(resource_label(resource), problem[0], problem[1], key)

    def _time_problem(self, raw_time: str | None, moment: datetime | None) -> _Problem | None:
        if moment is None:
            if not self.needs_time:
                return None
            detail = "no readable time" if raw_time is None else f"unreadable time {raw_time!r}"
            return ExclusionReason.NO_TIME, detail
        if moment > self.request.latest_allowed:
            return ExclusionReason.AFTER_REFERENCE_TIME, f"{raw_time} is after the reference time"
        if self.window_start is not None and moment < self.window_start:
            window = self.feature.window.text if self.feature.window is not None else ""
            return ExclusionReason.OUT_OF_WINDOW, f"{raw_time} is older than {window}"
        return None

    def _where_problem(self, resource: dict[str, Any]) -> _Problem | None:
        where = self.feature.where
        if where is None:
            return None
        try:
            kept = where.test(resource)
        except Exception as exc:  # fhirpathpy raises many types on odd data; all mean "cannot tell"
            return ExclusionReason.EXPRESSION_ERROR, f"where {where.text}: {type(exc).__name__}"
        return None if kept else (ExclusionReason.FILTERED, f"where {where.text} is not true")


_Collected = tuple[list[Point], list[tuple[Candidate, Reading, str | None]], list[Exclusion], bool]


def collect(feature: SourceFeature, plan: MappingPlan, scan: Scan, request: RequestContext) -> _Collected:
    """Screen the candidates of one feature: ``(points, accepted, exclusions, read any)``.

    The common cases -- a value accepted (right patient, allowed status, in the window, no filter,
    known unit, plausible) and a result excluded for being too old -- are decided inline; anything
    else goes through :class:`_Screen`, which re-checks in order and records the first problem.
    """
    screen: _Screen | None = None  # built on the first candidate that leaves the fast path
    points: list[Point] = []
    accepted: list[tuple[Candidate, Reading, str | None]] = []
    exclusions: list[Exclusion] = []
    read_any = False
    allowed = feature.explicit_keys
    blocked = plan.context_keys if allowed is None else _NOTHING
    facts_get = request.facts.get
    plain_statuses = feature.gate.plain_statuses
    window_start = request.window_start(feature.window) or _NO_LOWER_BOUND
    window_text = feature.window.text if feature.window is not None else ""
    simple = feature.where is None
    low, high = feature.value_range or _UNBOUNDED
    for candidate in scan.candidates[feature.slot]:
        resource, component, key, _ = candidate
        if key in blocked or (allowed is not None and key not in allowed):
            continue
        read_any = True
        problem, raw_time, moment = facts_get(id(resource)) or request.facts_of(
            resource, feature.resource_type
        )
        if problem is None and moment is not None:
            if plain_statuses is not None:
                status = resource.get("status")
                status_ok = status in plain_statuses if isinstance(status, str) else False
            else:
                status_ok = feature.gate.check(resource) is None
            if status_ok and moment < window_start:
                detail = f"{raw_time} is older than {window_text}"
                exclusions.append(
                    Exclusion(resource_label(resource), ExclusionReason.OUT_OF_WINDOW, detail, key)
                )
                continue
            if status_ok and simple and moment <= request.latest_allowed:
                reading = feature.reader(resource, component, request.now)
                if isinstance(reading, Reading) and low <= reading.value <= high:
                    points.append((moment, reading.value))
                    accepted.append((candidate, reading, raw_time))
                    continue
        screen = screen or _Screen(feature, request)
        outcome = screen.screen(candidate)
        if isinstance(outcome, Exclusion):
            exclusions.append(outcome)
        else:
            points.append((outcome[0], outcome[1].value))
            accepted.append((candidate, outcome[1], outcome[2]))
    return points, accepted, exclusions, read_any


def range_problem(value: float, unit: str | None, bounds: tuple[float, float]) -> str:
    suffix = f" {unit}" if unit else ""
    return f"{value:g}{suffix} is outside the plausible range [{bounds[0]:g}, {bounds[1]:g}]"
