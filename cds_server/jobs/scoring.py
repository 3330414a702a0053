"""Scoring many feature rows at once: a patient's resources laid out as a mapping's prefetch, the
mapping engine per row, then one batched model run (on the registry's execution provider — CUDA when
the deployment has it).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cds_server.features import CompiledMapping
from cds_server.features import FeatureVector
from cds_server.hooks.prefetch import FhirQuery
from cds_server.hooks.prefetch import render_template
from cds_server.hooks.request import HookRequest
from cds_server.inference import BatchPrediction
from cds_server.inference import ModelRegistry


def template_type(query: str) -> str:
    return re.split(r"[/?]", query, maxsplit=1)[0]


def patient_queries(mapping: CompiledMapping, patient_id: str, today: date) -> list[FhirQuery]:
    """The mapping's prefetch templates filled in for one patient, as a hook call would fill them."""
    request = HookRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"patientId": patient_id, "userId": "Practitioner/cds-server-job"},
        }
    )
    return [render_template(query, request, today=today, key=key) for key, query in mapping.prefetch.items()]


def layout_prefetch(
    mapping: CompiledMapping, patient_id: str, resources: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A patient's resources as the mapping's prefetch: the read key gets the Patient, each search key a
    searchset of its resource type (a resource goes to the first key of its type only, so counts are
    not doubled)."""
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for resource in resources:
        by_type.setdefault(str(resource.get("resourceType")), []).append(resource)
    prefetch: dict[str, Any] = {}
    used: set[str] = set()
    for key, query in mapping.prefetch.items():
        kind = template_type(query)
        if "?" not in query:  # a read: Patient/{{context.patientId}}
            matches = [r for r in by_type.get(kind, []) if r.get("id") == patient_id]
            prefetch[key] = dict(matches[0]) if matches else None
            continue
        entries = [] if kind in used else by_type.get(kind, [])
        used.add(kind)
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "entry": [{"resource": r} for r in entries],
        }
    return prefetch


@dataclass(frozen=True)
class ScoredRows:
    """A batch run's result per row: usable or not (with the reasons), and the outputs."""

    batch: BatchPrediction
    usable: NDArray[np.bool_]
    reasons: tuple[tuple[str, ...], ...]

    def outputs(self, row: int) -> dict[str, float | None]:
        return {name: _number(values[row]) for name, values in self.batch.outputs.items()}


def score_rows(models: ModelRegistry, model_id: str, rows: Sequence[NDArray[Any]]) -> ScoredRows:
    """One model run over every row (``with_shadow=False``: shadows are for live decisions)."""
    matrix = np.stack(list(rows)).astype(np.float32)
    batch = models.predict_batch(model_id, matrix, with_shadow=False)
    reasons = tuple(
        reasons or (("model output is not finite",) if batch.non_finite[index] else ())
        for index, reasons in enumerate(batch.inapplicable)
    )
    return ScoredRows(batch, batch.usable, reasons)


def extract(
    mapping: CompiledMapping, prefetch: Mapping[str, Any], *, now: datetime, patient_id: str
) -> FeatureVector:
    return mapping.extract(prefetch, now=now, patient_id=patient_id)


def short_reason(reasons: Sequence[str]) -> str:
    return "; ".join(reasons)[:1024] if reasons else "not scored"


def _number(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None
