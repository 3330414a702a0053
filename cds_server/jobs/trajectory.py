"""Risk trajectory: a patient's risk recomputed as of each past encounter, as a trend with its driver.

Started by an asynchronous service (``cds_services/risk-trajectory.yaml``): the hook's completed
prefetch is the job's snapshot; when a backend is configured for the hook's ``fhirServer``, the whole
longitudinal record is read from it (all pages) with the server's own credentials. The features are
rebuilt as of each encounter with the mapping engine's reference time, and the model runs once over
every time point (:mod:`cds_server.jobs.trend`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from datetime import timedelta
from typing import Annotated
from typing import Any
from urllib.parse import unquote

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints

from cds_server.features import CompiledMapping
from cds_server.features.fhirtime import parse_fhir_datetime
from cds_server.fhir.backend_client import BackendClient
from cds_server.fhir.backend_client import BackendError
from cds_server.hooks.request import FHIR_ID
from cds_server.jobs.claims import Finish
from cds_server.jobs.context import JobContext
from cds_server.jobs.errors import JobRetry
from cds_server.jobs.history import as_of
from cds_server.jobs.history import merge
from cds_server.jobs.history import resources_of
from cds_server.jobs.kinds import JobKind
from cds_server.jobs.scoring import layout_prefetch
from cds_server.jobs.scoring import template_type
from cds_server.jobs.trend import compute_trend

log = logging.getLogger(__name__)

KIND = "risk-trajectory"
#: search parameters of a hook's prefetch that narrow to the present; the history read drops them
_PRESENT_ONLY = frozenset({"status", "clinical-status", "date", "_sort", "_count", "_lastUpdated"})


class TrajectoryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    service: str
    patientId: Annotated[str, StringConstraints(pattern=f"^{FHIR_ID}$")]
    now: AwareDatetime
    mapping: str
    model: str
    output: str
    lookBackDays: int = Field(ge=1, le=36525)
    maxPoints: int = Field(ge=2, le=500)
    labels: dict[str, str] = Field(default_factory=dict)


def run(ctx: JobContext) -> Finish:
    params = TrajectoryParams.model_validate(ctx.job.params)
    deps = ctx.deps
    mapping = deps.mappings.get(params.mapping)
    resources = resources_of(ctx.job.snapshot)
    history = "prefetch"
    backend = deps.backends.for_base(ctx.job.fhir_server)
    if backend is not None and backend.allows(ctx.job.owner.issuer):
        with deps.backend_client(backend) as client:
            try:
                resources = merge(resources, read_record(ctx, client, mapping, params.patientId))
                history = "server"
            except BackendError as error:
                if error.transient:
                    raise JobRetry(
                        error.reason, f"The FHIR server could not be read ({error.reason})."
                    ) from None
                log.warning(
                    "job %s: history not readable (%s); trend from the prefetch only",
                    ctx.job.id,
                    error.reason,
                )
                history = f"prefetch (server refused: {error.reason})"
    ctx.check()
    moments = time_points(resources, params.now, timedelta(days=params.lookBackDays), params.maxPoints)
    points = []
    for index, moment in enumerate(moments):
        prefetch = layout_prefetch(mapping, params.patientId, as_of(resources, moment))
        points.append((moment, mapping.extract(prefetch, now=moment, patient_id=params.patientId)))
        if index % 10 == 0:
            ctx.check()
    trend = compute_trend(
        deps.models,
        params.model,
        params.output,
        points,
        patient_ref=f"Patient/{params.patientId}",
        labels=params.labels,
    )
    summary = {**trend.summary, "service": params.service, "history": history, "resources": len(resources)}
    return Finish(rows=trend.rows, summary=summary, done=len(points), total=len(points))


KIND_SPEC = JobKind(
    name=KIND,
    params=TrajectoryParams,
    run=run,
    description="A patient's risk as of each past encounter, with the input that drove the change.",
    submittable=False,
)


def read_record(
    ctx: JobContext, client: BackendClient, mapping: CompiledMapping, patient_id: str
) -> list[dict[str, Any]]:
    """The patient's whole record for the mapping: its queries without present-only filters, all pages,
    plus the encounters (the time points)."""
    page = str(client.backend.declaration.pageSize)
    found: list[dict[str, Any]] = []
    searched: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for query in mapping.prefetch.values():
        kind = template_type(query)
        if "?" not in query:
            resource = client.read(kind, patient_id) if kind == "Patient" else None
            if resource is not None:
                found.append(resource)
            continue
        params = tuple(
            (name, value) for name, value in _query_params(query, patient_id) if name not in _PRESENT_ONLY
        )
        searched.add((kind, params))
    searched.add(("Encounter", (("patient", patient_id),)))
    for kind, params in sorted(searched):
        found.extend(client.search(kind, [*params, ("_count", page)]))
        ctx.check()
    return found


def _query_params(template: str, patient_id: str) -> list[tuple[str, str]]:
    _, _, query = template.partition("?")
    pairs = []
    for pair in filter(None, query.split("&")):
        name, _, value = pair.partition("=")
        value = unquote(value).replace("{{context.patientId}}", patient_id)
        if "{{" in value:
            continue  # other tokens (today()) narrow by date: the history wants everything
        pairs.append((unquote(name), value))
    return pairs


def time_points(
    resources: Sequence[dict[str, Any]], now: datetime, look_back: timedelta, max_points: int
) -> list[datetime]:
    """The end of each encounter within the look-back (the record is complete then), and ``now``.

    Without encounters, the distinct days with observations stand in. Several encounters on one day
    count once (the last); only the most recent ``max_points`` are kept.
    """
    start = now - look_back
    moments = [_encounter_end(r) for r in resources if r.get("resourceType") == "Encounter"]
    if not any(moments):
        moments = [
            parse_fhir_datetime(r.get("effectiveDateTime"))
            for r in resources
            if r.get("resourceType") == "Observation"
        ]
    by_day: dict[str, datetime] = {}
    for moment in moments:
        if moment is None or not start <= moment < now:
            continue
        day = moment.date().isoformat()
        by_day[day] = max(moment, by_day.get(day, moment))
    chosen = sorted(by_day.values())[-(max_points - 1) :]
    return [*chosen, now]


def _encounter_end(resource: dict[str, Any]) -> datetime | None:
    period = resource.get("period")
    if not isinstance(period, dict):
        return None
    end = parse_fhir_datetime(period.get("end"))
    begin = parse_fhir_datetime(period.get("start"))
    return end or begin
