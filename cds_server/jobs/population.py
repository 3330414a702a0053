"""Population scoring: one model (through its mapping) over many patients of a backend FHIR server.

Unit 0 finds the cohort — patient ids, a FHIR ``Group`` or a ``Patient`` search — and fans it out in
chunks (``CDS_JOB_CHUNK_SIZE`` patients each) that any worker may take. Where the server offers Bulk
Data ``$export`` for a Group, unit 0 exports it once (NDJSON) and hands each chunk its patients'
resources; otherwise each chunk reads its patients with the mapping's own (paged) queries. Every chunk
scores its patients in one batched model run and, when asked, writes RiskAssessments back in one
transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import Literal

from pydantic import AwareDatetime
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints
from pydantic import model_validator

from cds_server.errors import InvalidJobRequest
from cds_server.features import CompiledMapping
from cds_server.fhir.backend_client import BackendClient
from cds_server.fhir.backend_client import BackendError
from cds_server.hooks.request import FHIR_ID
from cds_server.inference import ModelRegistry
from cds_server.jobs.claims import Finish
from cds_server.jobs.context import JobContext
from cds_server.jobs.errors import JobFailed
from cds_server.jobs.errors import JobRetry
from cds_server.jobs.kinds import JobKind
from cds_server.jobs.kinds import SubmitContext
from cds_server.jobs.records import ResultRow
from cds_server.jobs.scoring import layout_prefetch
from cds_server.jobs.scoring import patient_queries
from cds_server.jobs.scoring import score_rows
from cds_server.jobs.scoring import short_reason
from cds_server.jobs.scoring import template_type
from cds_server.jobs.writeback import WriteBackError
from cds_server.jobs.writeback import check_response
from cds_server.jobs.writeback import risk_assessment
from cds_server.jobs.writeback import transaction

KIND = "population-scoring"
#: most patient ids accepted inline in a request
MAX_LISTED_PATIENTS = 100_000
#: how long unit 0 waits for a Bulk Data export, in seconds (below the soft time limit is better)
EXPORT_WAIT_S = 180.0

FhirId = Annotated[str, StringConstraints(pattern=f"^{FHIR_ID}$")]
_STRICT = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Cohort(BaseModel):
    """Exactly one of: listed patient ids, a Group id, or Patient search parameters."""

    model_config = _STRICT
    patients: tuple[FhirId, ...] | None = Field(default=None, min_length=1, max_length=MAX_LISTED_PATIENTS)
    group: Annotated[str, StringConstraints(pattern=f"^(Group/)?{FHIR_ID}$")] | None = None
    search: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-zA-Z0-9\-_:.]{0,63}$")], str] | None = (
        None
    )

    @model_validator(mode="after")
    def _one(self) -> Cohort:
        given = [name for name in ("patients", "group", "search") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of patients, group, search")
        return self


class PopulationParams(BaseModel):
    model_config = _STRICT
    server: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-_.]{0,63}$")] = Field(
        description="Id of a backend in CDS_FHIR_BACKENDS_FILE (never a URL)."
    )
    model: str = Field(min_length=1, max_length=128)
    mapping: str | None = Field(default=None, max_length=128)
    cohort: Cohort
    asOf: AwareDatetime | None = Field(default=None, description="Reference time; default: submission.")
    source: Literal["auto", "bulk", "search"] = "auto"
    writeBack: bool = False
    output: str | None = None


def check(params: BaseModel, parts: SubmitContext) -> None:
    """Submission-time checks against this server's backends, models and mappings."""
    assert isinstance(params, PopulationParams)
    backend = parts.backends.get(params.server)
    if backend is None or not backend.allows(parts.owner.issuer):
        raise InvalidJobRequest("params.server: no such FHIR server is configured for jobs.")
    if params.model not in parts.models.status():
        raise InvalidJobRequest("params.model: no such model.")
    mapping = resolve_mapping(params, parts.mappings, parts.models)
    card = parts.models.card(params.model)
    if params.output is not None and params.output not in card.output_names:
        raise InvalidJobRequest("params.output: not an output of the model.")
    if params.writeBack and not backend.declaration.writeBack:
        raise InvalidJobRequest("params.writeBack: this FHIR server does not accept write-back.")
    if params.source == "bulk" and params.cohort.group is None:
        raise InvalidJobRequest("params.source: bulk export needs a group cohort.")
    del mapping


def resolve_mapping(params: PopulationParams, mappings: Any, models: Any) -> CompiledMapping:
    inputs = tuple(models.card(params.model).input_names)
    if params.mapping is not None:
        if params.mapping not in mappings:
            raise InvalidJobRequest("params.mapping: no such mapping.")
        mapping: CompiledMapping = mappings.get(params.mapping)
        if tuple(mapping.feature_names) != inputs:
            raise InvalidJobRequest("params.mapping: it does not produce the model's inputs.")
        return mapping
    fitting: list[CompiledMapping] = [m for m in mappings if tuple(m.feature_names) == inputs]
    if len(fitting) != 1:
        raise InvalidJobRequest("params.mapping: name the mapping (none or several fit the model).")
    return fitting[0]


def run(ctx: JobContext) -> Finish:
    params = PopulationParams.model_validate(ctx.job.params)
    return plan(ctx, params) if ctx.unit == 0 else score_chunk(ctx, params)


KIND_SPEC = JobKind(
    name=KIND,
    params=PopulationParams,
    run=run,
    description="Score a cohort of a FHIR server with one model; optionally write RiskAssessments back.",
    check=check,
)


# --- unit 0: the cohort ---------------------------------------------------------------------------


def plan(ctx: JobContext, params: PopulationParams) -> Finish:
    deps = ctx.deps
    backend = deps.backend_for_job(params.server, ctx.job)
    mapping = resolve_mapping(params, deps.mappings, deps.models)
    size = deps.settings.job_chunk_size
    with deps.backend_client(backend) as client:
        try:
            if _use_export(params, client):
                assert params.cohort.group is not None
                group = params.cohort.group.removeprefix("Group/")
                charts = _export_charts(ctx, client, f"Group/{group}", mapping)
                payloads = [
                    {"offset": start, "charts": charts[start : start + size]}
                    for start in range(0, len(charts), size)
                ]
                return Finish(
                    fan_out=payloads, total=len(charts), summary=_summary(params, "bulk", len(charts))
                )
            ids = _cohort_ids(ctx, client, params)
        except BackendError as error:
            raise (JobRetry if error.transient else JobFailed)(
                error.reason, _backend_message(error.reason)
            ) from None
    payloads = [
        {"offset": start, "patients": ids[start : start + size]} for start in range(0, len(ids), size)
    ]
    return Finish(fan_out=payloads, total=len(ids), summary=_summary(params, "search", len(ids)))


def _use_export(params: PopulationParams, client: BackendClient) -> bool:
    if params.cohort.group is None or params.source == "search" or client.backend.declaration.bulk == "never":
        return False
    if params.source == "bulk" or client.backend.declaration.bulk == "always":
        return True
    return client.supports_export("Group")


def _export_charts(
    ctx: JobContext, client: BackendClient, path: str, mapping: CompiledMapping
) -> list[dict[str, Any]]:
    types = sorted({template_type(query) for query in mapping.prefetch.values()})
    deadline = time.monotonic() + EXPORT_WAIT_S
    return charts_by_patient(client.export(path, types, deadline=deadline, check=ctx.check), check=ctx.check)


def charts_by_patient(
    resources: Iterable[dict[str, Any]], *, check: Callable[[], None] = lambda: None
) -> list[dict[str, Any]]:
    """Exported (NDJSON) resources grouped per patient: ``[{"id": ..., "resources": [...]}]`` by id."""
    charts: dict[str, list[dict[str, Any]]] = {}
    for count, resource in enumerate(resources):
        owner = _patient_of(resource)
        if owner is not None:
            charts.setdefault(owner, []).append(resource)
        if count % 1000 == 0:
            check()
    return [{"id": patient_id, "resources": found} for patient_id, found in sorted(charts.items())]


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id"))
    for field in ("subject", "patient"):
        reference = (
            (resource.get(field) or {}).get("reference") if isinstance(resource.get(field), dict) else None
        )
        if isinstance(reference, str) and "Patient/" in reference:
            return reference.rsplit("Patient/", 1)[1].split("/", 1)[0]
    return None


def _cohort_ids(ctx: JobContext, client: BackendClient, params: PopulationParams) -> list[str]:
    cohort = params.cohort
    if cohort.patients is not None:
        return list(dict.fromkeys(cohort.patients))
    if cohort.group is not None:
        group = client.read("Group", cohort.group.removeprefix("Group/"))
        if group is None:
            raise JobFailed("group-not-found", "The Group does not exist on the FHIR server.")
        ids = []
        for member in group.get("member") or ():
            reference = (member.get("entity") or {}).get("reference", "") if isinstance(member, dict) else ""
            if isinstance(reference, str) and reference.startswith("Patient/") and not member.get("inactive"):
                ids.append(reference.removeprefix("Patient/"))
        return list(dict.fromkeys(ids))
    assert cohort.search is not None
    params_list = [
        *cohort.search.items(),
        ("_elements", "id"),
        ("_count", str(client.backend.declaration.pageSize)),
    ]
    ids = []
    for index, patient in enumerate(client.search("Patient", params_list)):
        ids.append(str(patient.get("id")))
        if index % 500 == 0:
            ctx.check()
    return list(dict.fromkeys(ids))


def _summary(params: PopulationParams, source: str, patients: int) -> dict[str, Any]:
    return {"model": params.model, "source": source, "patients": patients, "writeBack": params.writeBack}


# --- units 1..N: a chunk --------------------------------------------------------------------------------


def score_chunk(ctx: JobContext, params: PopulationParams) -> Finish:
    deps = ctx.deps
    backend = deps.backend_for_job(params.server, ctx.job)
    mapping = resolve_mapping(params, deps.mappings, deps.models)
    card = deps.models.card(params.model)
    output = params.output or card.output_names[0]
    as_of = params.asOf or ctx.job.created_at
    payload = ctx.payload
    offset = int(payload["offset"])
    with deps.backend_client(backend) as client:
        try:
            charts = (
                [(c["id"], layout_prefetch(mapping, c["id"], c["resources"])) for c in payload["charts"]]
                if "charts" in payload
                else list(
                    read_charts(
                        client,
                        mapping,
                        payload["patients"],
                        as_of=as_of,
                        parallel=deps.settings.fhir_parallel,
                        check=ctx.check,
                    )
                )
            )
        except BackendError as error:
            raise (JobRetry if error.transient else JobFailed)(
                error.reason, _backend_message(error.reason)
            ) from None
        ctx.check()
        rows = score_charts(deps.models, mapping, params.model, charts, as_of=as_of, offset=offset)
        if params.writeBack:
            rows = _write_back(ctx, client, card, output, rows, as_of=as_of)
    return Finish(rows=rows, done=len(rows))


def read_charts(
    client: BackendClient,
    mapping: CompiledMapping,
    patient_ids: Sequence[str],
    *,
    as_of: datetime,
    parallel: int,
    check: Callable[[], None],
) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each patient's prefetch read with the mapping's own queries (all pages), ``parallel`` at a time;
    ``None`` for a patient the server does not have."""

    def read(patient_id: str) -> tuple[str, dict[str, Any] | None]:
        prefetch: dict[str, Any] = {}
        for query in patient_queries(mapping, patient_id, as_of.date()):
            if query.is_search:
                entries = [{"resource": r} for r in client.search(query.path, query.params)]
                prefetch[query.key] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
            else:
                kind, _, ident = query.path.partition("/")
                resource = client.read(kind, ident)
                if resource is None and kind == "Patient":
                    return patient_id, None
                prefetch[query.key] = resource
        return patient_id, prefetch

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="job-fhir") as pool:
        for result in pool.map(read, patient_ids):
            check()
            yield result


def score_charts(
    models: ModelRegistry,
    mapping: CompiledMapping,
    model_id: str,
    charts: Sequence[tuple[str, dict[str, Any] | None]],
    *,
    as_of: datetime,
    offset: int,
) -> list[ResultRow]:
    """One result row per chart: the mapping per patient, then one batched model run for all of them."""
    rows: list[ResultRow] = []
    vectors = []
    positions = []
    for index, (patient_id, prefetch) in enumerate(charts):
        if prefetch is None:
            rows.append(
                ResultRow(
                    offset + index, "not-scored", f"Patient/{patient_id}", as_of, None, "patient not found"
                )
            )
            continue
        features = mapping.extract(prefetch, now=as_of, patient_id=patient_id)
        vectors.append(features.values)
        positions.append((index, patient_id))
    if vectors:
        scored = score_rows(models, model_id, vectors)
        for row, (index, patient_id) in enumerate(positions):
            usable = bool(scored.usable[row])
            rows.append(
                ResultRow(
                    seq=offset + index,
                    status="scored" if usable else "not-scored",
                    patient_ref=f"Patient/{patient_id}",
                    as_of=as_of,
                    outputs=scored.outputs(row) if usable else None,
                    reason=None if usable else short_reason(scored.reasons[row]),
                )
            )
    return sorted(rows, key=lambda r: r.seq)


def _write_back(
    ctx: JobContext, client: BackendClient, card: Any, output: str, rows: list[ResultRow], *, as_of: datetime
) -> list[ResultRow]:
    values = {row.seq: (row.outputs or {}).get(output) for row in rows if row.status == "scored"}
    scored = {seq: value for seq, value in values.items() if value is not None}
    if not scored:
        return rows
    patients = {row.seq: str(row.patient_ref).removeprefix("Patient/") for row in rows}
    resources = {
        seq: risk_assessment(
            job_id=ctx.job.id, patient_id=patients[seq], card=card, output=output, value=value, as_of=as_of
        )
        for seq, value in scored.items()
    }
    ctx.check()
    try:
        response = client.transaction(transaction(list(resources.values())))
        check_response(response, len(resources))
    except BackendError as error:
        raise (JobRetry if error.transient else JobFailed)(
            f"write-back-{error.reason}", "The FHIR server did not take the RiskAssessments."
        ) from None
    except WriteBackError as error:
        raise JobFailed(
            "write-back-refused", f"The FHIR server refused the RiskAssessments ({error})."
        ) from None
    return [
        replace(row, written_back=f"RiskAssessment/{resources[row.seq]['id']}")
        if row.seq in resources
        else row
        for row in rows
    ]


def _backend_message(reason: str) -> str:
    return f"The FHIR server could not be read ({reason})."
