"""A risk trend: one model run over every time point, plus what drove the change.

The rows are the patient's features as of each point. The driver is found in the same batch: for
each input that differs between the first and the last scorable point, one more row is the last point
with that input put back to its first value; the input whose change explains most of the rise (or
fall) — the largest drop (or gain) when it is put back — is the main driver. Age counts like any
input: when getting older explains most of the change, the card says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from cds_server.features import FeatureVector
from cds_server.inference import ModelRegistry
from cds_server.inference.applicability import inapplicable_rows
from cds_server.jobs.records import ResultRow
from cds_server.jobs.scoring import score_rows
from cds_server.jobs.scoring import short_reason

#: a change smaller than this (in the output's unit, e.g. 0.005 = half a percentage point) is "stable"
STABLE = 0.005
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Trend:
    rows: tuple[ResultRow, ...]
    summary: dict[str, Any]


def compute_trend(
    models: ModelRegistry,
    model_id: str,
    output: str,
    points: Sequence[tuple[datetime, FeatureVector]],
    *,
    patient_ref: str,
    labels: Mapping[str, str],
) -> Trend:
    card = models.card(model_id)
    names = list(card.input_names)
    matrix = np.stack([features.values for _, features in points]).astype(np.float32)
    precheck = inapplicable_rows(card, matrix)
    candidates = [i for i, reasons in enumerate(precheck) if not reasons]
    first, last = (candidates[0], candidates[-1]) if len(candidates) >= 2 else (None, None)
    swapped: list[str] = []
    rows = list(matrix)
    if first is not None and last is not None:
        for column, name in enumerate(names):
            if not math.isclose(float(matrix[first, column]), float(matrix[last, column]), abs_tol=1e-6):
                row = matrix[last].copy()
                row[column] = matrix[first, column]
                rows.append(row)
                swapped.append(name)
    scored = score_rows(models, model_id, rows)
    values = scored.batch.outputs[output]
    count = len(points)
    results = tuple(
        ResultRow(
            seq=index,
            status="scored" if scored.usable[index] else "not-scored",
            patient_ref=patient_ref,
            as_of=moment,
            outputs=scored.outputs(index) if scored.usable[index] else None,
            reason=None if scored.usable[index] else short_reason(scored.reasons[index]),
        )
        for index, (moment, _) in enumerate(points)
    )
    usable = [i for i in range(count) if scored.usable[i]]
    summary: dict[str, Any] = {
        "model": card.id,
        "version": card.version,
        "provider": scored.batch.provider,
        "output": output,
        "points": [
            {"asOf": moment.isoformat(), "value": float(values[i]) if scored.usable[i] else None}
            for i, (moment, _) in enumerate(points)
        ],
        "scoredPoints": len(usable),
    }
    if len(usable) < 2:
        summary["direction"] = "insufficient"
        if usable:
            summary["last"] = _point(points, values, usable[-1])
        return Trend(results, summary)
    start, end = usable[0], usable[-1]
    change = float(values[end] - values[start])
    summary.update(
        first=_point(points, values, start),
        last=_point(points, values, end),
        change=change,
        spanYears=(points[end][0] - points[start][0]).days / DAYS_PER_YEAR,
        direction="stable" if abs(change) < STABLE else "rose" if change > 0 else "fell",
    )
    if (start, end) == (first, last) and swapped:
        contributions = {}
        for offset, name in enumerate(swapped):
            row = count + offset
            if scored.usable[row]:
                contributions[name] = float(values[end] - values[row])
        summary["contributions"] = contributions
        changed = {name: (float(matrix[start, i]), float(matrix[end, i])) for i, name in enumerate(names)}
        summary["driver"] = _driver(contributions, change, changed, labels)
    return Trend(results, summary)


def _point(points: Sequence[tuple[datetime, FeatureVector]], values: Any, index: int) -> dict[str, Any]:
    return {"asOf": points[index][0].isoformat(), "value": float(values[index])}


def _driver(
    contributions: Mapping[str, float],
    change: float,
    values: Mapping[str, tuple[float, float]],
    labels: Mapping[str, str],
) -> dict[str, Any] | None:
    if abs(change) < STABLE:
        return None
    sign = 1.0 if change > 0 else -1.0
    helping = {name: value for name, value in contributions.items() if value * sign > 0}
    if not helping:
        return None
    name = max(helping, key=lambda n: helping[n] * sign)
    return {
        "input": name,
        "label": labels.get(name, name),
        "contribution": helping[name],
        "from": values[name][0],
        "to": values[name][1],
    }
