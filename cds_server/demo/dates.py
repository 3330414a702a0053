"""Moving a synthetic chart in time, every date and date-time by the same number of days.

Synthea charts end years ago; a demo "today" needs recent vitals and labs, or every look-back
window is empty. Shifting every FHIR ``date``/``dateTime``/``instant`` value by one offset keeps
intervals (and ages at each visit) as recorded. Partial dates (``2020``, ``2020-05``) are left alone:
a four-digit string in a bundle is as likely a code as a year.
"""

from __future__ import annotations

import re
from datetime import date
from datetime import datetime
from datetime import timedelta
from typing import Any

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def shift_value(value: str, days: int) -> str:
    if _DATE.match(value):
        return (date.fromisoformat(value) + timedelta(days=days)).isoformat()
    match = _DATE_TIME.match(value)
    if match:
        moved = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
        text = moved.isoformat(timespec="milliseconds" if match.group(1) else "seconds")
        return text.replace("+00:00", "Z") if value.endswith("Z") else text
    return value


def shift_dates(document: Any, days: int) -> Any:
    """A copy of ``document`` (any JSON) with every full date and date-time moved by ``days``."""
    if isinstance(document, dict):
        return {key: shift_dates(item, days) for key, item in document.items()}
    if isinstance(document, list):
        return [shift_dates(item, days) for item in document]
    if isinstance(document, str):
        return shift_value(document, days)
    return document


def latest_observation_time(resources: list[dict[str, Any]]) -> datetime | None:
    times = [
        datetime.fromisoformat(str(r["effectiveDateTime"]).replace("Z", "+00:00"))
        for r in resources
        if r.get("resourceType") == "Observation" and _DATE_TIME.match(str(r.get("effectiveDateTime", "")))
    ]
    return max(times) if times else None
