"""``/jobs``: submit, poll, cancel, results — and the signed result page cards link to.

Jobs belong to the client that submitted them (``flask.g.client``); another client's job is answered
exactly like an unknown one (404). Result formats: JSON (default), CSV and NDJSON, chosen by
``?format=`` or ``Accept``.
"""

from __future__ import annotations

import itertools

from flask import Blueprint
from flask import Response
from flask import g
from flask import render_template
from flask import request

from cds_server.api.body import read_json_body
from cds_server.api.responses import json_response
from cds_server.errors import InvalidJobRequest
from cds_server.errors import JobNotFound
from cds_server.errors import NotAcceptable
from cds_server.hooks.decisions import ClientIdentity
from cds_server.jobs.kinds import SubmitContext
from cds_server.jobs.records import JOB_ID_RE
from cds_server.jobs.records import JobView
from cds_server.jobs.records import Owner
from cds_server.jobs.serialize import ACCEPTED
from cds_server.jobs.serialize import RESULT_FORMATS
from cds_server.jobs.serialize import job_document
from cds_server.jobs.serialize import stream_results
from cds_server.state import CdsState
from cds_server.state import get_state
from cds_server.web.plot import trend_svg

bp = Blueprint("jobs", __name__)

#: rows shown on the result page (the API streams them all)
PAGE_ROWS = 500


def _owner() -> Owner:
    return Owner.of(g.get("client", ClientIdentity.anonymous()))


@bp.post("/jobs")
def submit() -> Response:
    state = get_state()
    body = read_json_body(request)
    if not isinstance(body, dict) or set(body) - {"kind", "params"}:
        raise InvalidJobRequest('The body must be {"kind": ..., "params": {...}}.')
    kinds = state.jobs.kinds
    kind, params = kinds.validate(body.get("kind"), body.get("params"))
    owner = _owner()
    if kind.check is not None:
        kind.check(params, SubmitContext(owner, state.jobs.backends, state.models, state.mappings))
    job = state.jobs.store.submit(
        owner=owner, kind=kind.name, params=params.model_dump(mode="json"), request_id=g.request_id
    )
    url = f"{state.settings.public_base_url}/jobs/{job.id}"
    return json_response(job_document(job, state.settings.public_base_url), 202, {"Location": url})


@bp.get("/jobs/<job_id>")
def get_job(job_id: str) -> Response:
    state = get_state()
    job = state.jobs.store.get(_owner(), job_id)
    if _wants_html():
        return _page(state, job)
    return json_response(job_document(job, state.settings.public_base_url))


@bp.delete("/jobs/<job_id>")
def cancel_job(job_id: str) -> Response:
    state = get_state()
    job = state.jobs.store.cancel(_owner(), job_id)
    return json_response(job_document(job, state.settings.public_base_url))


@bp.get("/jobs/<job_id>/results")
def results(job_id: str) -> Response:
    state = get_state()
    fmt = _result_format()
    job, rows = state.jobs.store.results(_owner(), job_id)
    outputs = _output_names(state, job)
    return Response(stream_results(fmt, job, rows, outputs), content_type=RESULT_FORMATS[fmt])


@bp.get("/jobs/<job_id>/view")
def view(job_id: str) -> Response:
    """The page a card links to: no client JWT (a browser has none), a signed, expiring link instead."""
    state = get_state()
    if not JOB_ID_RE.match(job_id):
        raise JobNotFound()
    now = state.jobs.store.clock()
    if not state.jobs.links.verify(job_id, request.args.get("exp", ""), request.args.get("sig", ""), now):
        raise JobNotFound()  # a wrong or expired signature looks like an unknown job
    record = state.jobs.store.record(job_id)
    if record is None:
        raise JobNotFound()
    return _page(state, state.jobs.store.get(record.owner, job_id))


def _page(state: CdsState, job: JobView) -> Response:
    rows = list(itertools.islice(state.jobs.store.rows(job.id), PAGE_ROWS + 1))
    outputs = _output_names(state, job)
    trend = job.kind == "risk-trajectory"
    percent, svg, sentence, title = False, None, None, job.kind
    summary = job.result or {}
    if trend:
        output = str(job.params.get("output", ""))
        outputs = [output]
        card = state.models.card(str(job.params.get("model")))
        percent = any(spec.name == output and spec.unit == "1" for spec in card.outputs)
        title = f"{card.name}: trend"
        thresholds = [(t.value, t.label) for t in card.thresholds if t.output == output]
        points = [(row.as_of, (row.outputs or {}).get(output)) for row in rows if row.as_of is not None]
        if job.terminal and rows:
            svg = trend_svg(points, title=title, percent=percent, thresholds=thresholds)
        driver = summary.get("driver")
        if summary.get("first") and summary.get("last"):
            first, last = summary["first"], summary["last"]
            sentence = (
                f"From {_number(first['value'], percent)} on {first['asOf'][:10]} to "
                f"{_number(last['value'], percent)} on {last['asOf'][:10]}"
                + (f"; main driver: {driver['label']}." if driver else ".")
            )
    page = render_template(
        "job.html",
        job=job,
        title=title,
        rows=rows[:PAGE_ROWS],
        more=len(rows) > PAGE_ROWS,
        outputs=outputs,
        percent=percent,
        svg=svg,
        sentence=sentence,
        trend=trend,
    )
    return Response(page, content_type="text/html; charset=utf-8")


def _number(value: float, percent: bool) -> str:
    return f"{value * 100:.1f} %" if percent else f"{value:g}"


def _output_names(state: CdsState, job: JobView) -> list[str]:
    model = job.params.get("model")
    if isinstance(model, str) and model in state.models.status():
        return list(state.models.card(model).output_names)
    return []


def _result_format() -> str:
    requested = request.args.get("format")
    if requested is not None:
        if requested not in RESULT_FORMATS:
            raise NotAcceptable("Query parameter 'format' must be json, csv or ndjson.")
        return requested
    if "Accept" not in request.headers:
        return "json"
    best = request.accept_mimetypes.best_match(list(ACCEPTED))
    if best is None:
        raise NotAcceptable("Results are available as application/json, text/csv and application/x-ndjson.")
    return ACCEPTED[best]


def _wants_html() -> bool:
    requested = request.args.get("format")
    if requested:
        return requested == "html"
    best = request.accept_mimetypes.best_match(["application/json", "text/html"], default="application/json")
    return best == "text/html"
