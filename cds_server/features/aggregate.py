"""Aggregations over the accepted values of one feature."""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum


class Aggregation(StrEnum):
    LATEST = "latest"
    EARLIEST = "earliest"
    MIN = "min"
    MAX = "max"
    MEAN = "mean"
    COUNT = "count"
    EXISTS = "exists"
    DELTA = "delta"

    @property
    def needs_time(self) -> bool:
        return self in (Aggregation.LATEST, Aggregation.EARLIEST, Aggregation.DELTA)

    @property
    def counts_absence(self) -> bool:
        """``count`` and ``exists`` turn "nothing matched" into 0 rather than missing."""
        return self in (Aggregation.COUNT, Aggregation.EXISTS)


#: One accepted value: (time or None, value).
Point = tuple[datetime | None, float]


def aggregate(aggregation: Aggregation, points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    """``(value, indices of the points that made it)``; NaN when there is nothing to aggregate.

    Ties on time keep the first point in document order, so results never depend on dict order.
    """
    return _AGGREGATORS[aggregation](points)


def _exists(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    return (1.0 if points else 0.0), tuple(range(len(points)))


def _count(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    return float(len(points)), tuple(range(len(points)))


def _mean(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    if not points:
        return math.nan, ()
    return math.fsum(value for _, value in points) / len(points), tuple(range(len(points)))


def _extreme(pick: Callable[..., int]) -> Callable[[Sequence[Point]], tuple[float, tuple[int, ...]]]:
    def by_value(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
        if not points:
            return math.nan, ()
        best: int = pick(range(len(points)), key=lambda i: points[i][1])
        return points[best][1], (best,)

    return by_value


def _newest_first(points: Sequence[Point]) -> list[int]:
    timed = [(moment, -index, index) for index, (moment, _) in enumerate(points) if moment is not None]
    timed.sort(reverse=True)
    return [index for _, _, index in timed]


def _latest(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    order = _newest_first(points)
    return (points[order[0]][1], (order[0],)) if order else (math.nan, ())


def _earliest(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    timed = [(moment, index) for index, (moment, _) in enumerate(points) if moment is not None]
    if not timed:
        return math.nan, ()
    first = min(timed)[1]
    return points[first][1], (first,)


def _delta(points: Sequence[Point]) -> tuple[float, tuple[int, ...]]:
    order = _newest_first(points)
    if len(order) < 2:
        return math.nan, ()
    latest, previous = order[0], order[1]
    return points[latest][1] - points[previous][1], (latest, previous)


_AGGREGATORS: Mapping[Aggregation, Callable[[Sequence[Point]], tuple[float, tuple[int, ...]]]] = {
    Aggregation.LATEST: _latest,
    Aggregation.EARLIEST: _earliest,
    Aggregation.MIN: _extreme(min),
    Aggregation.MAX: _extreme(max),
    Aggregation.MEAN: _mean,
    Aggregation.COUNT: _count,
    Aggregation.EXISTS: _exists,
    Aggregation.DELTA: _delta,
}
