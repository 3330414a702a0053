from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from cds_server.features.fhirtime import parse_duration
from cds_server.features.fhirtime import parse_fhir_datetime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC)),
        ("2024-05", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-17", datetime(2024, 5, 17, tzinfo=UTC)),
        ("2024-05-17T10:30:00Z", datetime(2024, 5, 17, 10, 30, tzinfo=UTC)),
        ("2024-05-17T10:30:00+02:00", datetime(2024, 5, 17, 8, 30, tzinfo=UTC)),
        # instants may carry nanoseconds; Python keeps the microseconds
        ("2024-05-17T10:30:00.123456789-05:00", datetime(2024, 5, 17, 15, 30, 0, 123456, tzinfo=UTC)),
        ("2024-05-17T10:30:00.123+00:00", datetime(2024, 5, 17, 10, 30, 0, 123000, tzinfo=UTC)),
        ("2024-05-17T10:30:00", datetime(2024, 5, 17, 10, 30, tzinfo=UTC)),  # no offset: read as UTC
        ("2024-13", None),
        ("24-05-17", None),
        ("", None),
        ("yesterday", None),
        (20240517, None),
        (None, None),
        (["2024"], None),
    ],
)
def test_parse_fhir_datetime(text: object, expected: datetime | None) -> None:
    assert parse_fhir_datetime(text) == expected


NOW = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("P1Y", datetime(2023, 3, 31, 12, tzinfo=UTC)),
        ("P1M", datetime(2024, 2, 29, 12, tzinfo=UTC)),  # clamped to the end of February
        ("P2Y6M", datetime(2021, 9, 30, 12, tzinfo=UTC)),
        ("P90D", NOW - timedelta(days=90)),
        ("P2W", NOW - timedelta(weeks=2)),
        ("PT24H", NOW - timedelta(hours=24)),
        ("PT90M", NOW - timedelta(minutes=90)),
        ("P1DT12H", NOW - timedelta(days=1, hours=12)),
        ("P5000Y", datetime.min.replace(tzinfo=UTC)),
    ],
)
def test_duration_windows(text: str, start: datetime) -> None:
    assert parse_duration(text).before(NOW) == start


@pytest.mark.parametrize("text", ["P", "PT", "2Y", "P1.5Y", "P-1D", "PT1D", "P1H", "p1y", "P1Y2"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        parse_duration(text)
