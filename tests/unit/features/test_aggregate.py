from __future__ import annotations

import math
from datetime import UTC
from datetime import datetime

import pytest

from cds_server.features.aggregate import Aggregation
from cds_server.features.aggregate import Point
from cds_server.features.aggregate import aggregate


def day(n: int) -> datetime:
    return datetime(2025, 1, n, tzinfo=UTC)


POINTS: list[Point] = [(day(2), 5.0), (day(9), 7.0), (None, 100.0), (day(5), 3.0), (day(9), 8.0)]


@pytest.mark.parametrize(
    ("aggregation", "value", "chosen"),
    [
        (Aggregation.LATEST, 7.0, (1,)),  # a tie on time keeps the first in document order
        (Aggregation.EARLIEST, 5.0, (0,)),
        (Aggregation.MIN, 3.0, (3,)),
        (Aggregation.MAX, 100.0, (2,)),
        (Aggregation.MEAN, (5 + 7 + 100 + 3 + 8) / 5, (0, 1, 2, 3, 4)),
        (Aggregation.COUNT, 5.0, (0, 1, 2, 3, 4)),
        (Aggregation.EXISTS, 1.0, (0, 1, 2, 3, 4)),
        (Aggregation.DELTA, 7.0 - 8.0, (1, 4)),
    ],
)
def test_aggregations(aggregation: Aggregation, value: float, chosen: tuple[int, ...]) -> None:
    actual, actual_chosen = aggregate(aggregation, POINTS)
    assert actual == pytest.approx(value)
    assert actual_chosen == chosen


@pytest.mark.parametrize("aggregation", list(Aggregation))
def test_nothing_to_aggregate(aggregation: Aggregation) -> None:
    value, chosen = aggregate(aggregation, [])
    assert chosen == ()
    if aggregation.counts_absence:
        assert value == 0.0
    else:
        assert math.isnan(value)


def test_delta_needs_two_timed_points() -> None:
    assert math.isnan(aggregate(Aggregation.DELTA, [(day(1), 1.0), (None, 2.0)])[0])
    assert math.isnan(aggregate(Aggregation.LATEST, [(None, 2.0)])[0])
