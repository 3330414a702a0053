"""FHIR date/dateTime/instant parsing and ISO-8601 durations, without any clock.

Partial dates take their low boundary (``2024-05`` is 2024-05-01T00:00Z) and a dateTime without
an offset is read as UTC: both are documented choices, not guesses made per request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from functools import lru_cache

_YEAR = re.compile(r"^\d{4}$")
_YEAR_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DURATION = re.compile(
    r"^P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)S)?)?$"
)


def parse_fhir_datetime(value: object) -> datetime | None:
    """A timezone-aware UTC datetime for a FHIR date, dateTime or instant; None if unreadable."""
    if not isinstance(value, str) or not 4 <= len(value) <= 40:
        return None
    return _parse(value)


@lru_cache(maxsize=16384)
def _parse(value: str) -> datetime | None:
    # Cached: the results of one encounter share a timestamp, and a patient's history recurs
    # across requests. Bounded, so memory cannot grow with traffic.
    try:
        if len(value) == 4:
            if not _YEAR.match(value):
                return None
            parsed = datetime(int(value), 1, 1)
        elif len(value) == 7:
            match = _YEAR_MONTH.match(value)
            if match is None:
                return None
            parsed = datetime(int(match[1]), int(match[2]), 1)
        else:
            parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Duration:
    """An ISO-8601 duration; years and months are calendar units, the rest is exact."""

    text: str
    years: int
    months: int
    rest: timedelta

    def before(self, moment: datetime) -> datetime:
        """The instant this duration before ``moment`` (calendar arithmetic, day clamped)."""
        total_months = moment.year * 12 + (moment.month - 1) - (self.years * 12 + self.months)
        year, month = divmod(total_months, 12)
        month += 1
        try:
            day = min(moment.day, _days_in_month(year, month))
            return moment.replace(year=year, month=month, day=day) - self.rest
        except (ValueError, OverflowError):
            # A window reaching before year 1 simply has no lower bound.
            return datetime.min.replace(tzinfo=UTC)


def parse_duration(text: str) -> Duration:
    """Parse ``P2Y``, ``P6M``, ``PT24H``... Raises ValueError for anything else."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as P2Y, P90D or PT24H")
    parts = {name: int(number) for name, number in match.groupdict().items() if number is not None}
    rest = timedelta(
        weeks=parts.get("w", 0),
        days=parts.get("d", 0),
        hours=parts.get("h", 0),
        minutes=parts.get("mi", 0),
        seconds=parts.get("s", 0),
    )
    return Duration(text=text, years=parts.get("y", 0), months=parts.get("mo", 0), rest=rest)


def _days_in_month(year: int, month: int) -> int:
    if month == 12:
        return 31
    return (datetime(year, month + 1, 1) - datetime(year, month, 1)).days
