"""Moving a chart in time keeps every interval."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from cds_server.demo.dates import shift_dates
from cds_server.demo.dates import shift_value
from cds_server.demo.patients import LAST_VISIT_BEFORE_NOW
from cds_server.demo.patients import chart
from cds_server.demo.patients import demo_patients


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("2020-02-28", 1, "2020-02-29"),
        ("2019-12-31", 1, "2020-01-01"),
        ("2020-06-01T10:30:00-04:00", 10, "2020-06-11T10:30:00-04:00"),
        ("2020-06-01T10:30:00Z", -1, "2020-05-31T10:30:00Z"),
        ("2020-06-01T10:30:00.123+02:00", 365, "2021-06-01T10:30:00.123+02:00"),
        ("2020", 10, "2020"),
        ("2020-05", 10, "2020-05"),
        ("2780", 10, "2780"),
        ("not a date", 10, "not a date"),
        ("12345-67-89", 1, "12345-67-89"),
    ],
)
def test_shift_value(value: str, days: int, expected: str) -> None:
    assert shift_value(value, days) == expected


def test_shift_dates_walks_any_json_and_leaves_other_values() -> None:
    document = {"a": ["2020-01-01", {"b": "2020-01-01T00:00:00Z", "n": 3, "t": True}], "c": None}
    assert shift_dates(document, 2) == {
        "a": ["2020-01-03", {"b": "2020-01-03T00:00:00Z", "n": 3, "t": True}],
        "c": None,
    }


def test_demo_charts_end_just_before_now_with_intervals_kept() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    for patient in demo_patients():
        original = chart(patient)
        shifted = chart(patient, now=now)
        assert [r["id"] for r in original] == [r["id"] for r in shifted]
        times = [
            datetime.fromisoformat(r["effectiveDateTime"])
            for r in shifted
            if r["resourceType"] == "Observation" and "T" in r.get("effectiveDateTime", "")
        ]
        latest = max(times)
        assert now - LAST_VISIT_BEFORE_NOW - latest < timedelta(days=1)
        assert latest < now
        birth_original = next(r for r in original if r["resourceType"] == "Patient")["birthDate"]
        birth_shifted = next(r for r in shifted if r["resourceType"] == "Patient")["birthDate"]
        assert birth_original != birth_shifted
        assert not any("urn:uuid:" in str(r) for r in shifted)


def test_six_demo_patients_are_bundled() -> None:
    assert [p.name for p in demo_patients()] == [
        "Dirk_Kuhlman",
        "Emery_Purdy",
        "Floyd_Connelly",
        "Liz_Conn",
        "Louis_Maggio",
        "Morris_Lockman",
    ]
