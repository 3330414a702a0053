"""Jobs and their results on the wire: the job document, and results as JSON, CSV or NDJSON (streamed)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from cds_server.jobs.records import JobView
from cds_server.jobs.records import ResultRow

RESULT_FORMATS = {
    "json": "application/json; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson; charset=utf-8",
}
#: Accept media types → format
ACCEPTED = {
    "application/json": "json",
    "text/csv": "csv",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
}


def job_document(job: JobView, base_url: str) -> dict[str, Any]:
    url = f"{base_url}/jobs/{job.id}"
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status.value,
        "createdAt": _instant(job.created_at),
        "startedAt": _instant(job.started_at),
        "finishedAt": _instant(job.finished_at),
        "updatedAt": _instant(job.updated_at),
        "attempts": job.attempts,
        "maxAttempts": job.max_attempts,
        "progress": {"done": job.progress_done, "total": job.progress_total},
        "units": {
            "total": job.units.total,
            "queued": job.units.queued,
            "running": job.units.running,
            "done": job.units.done,
            "failed": job.units.failed,
            "cancelled": job.units.cancelled,
        },
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "service": job.service_id,
        "patient": job.patient_ref,
        "params": dict(job.params),
        "summary": dict(job.result) if job.result is not None else None,
        "links": {
            "self": url,
            "results": f"{url}/results",
            "csv": f"{url}/results?format=csv",
            "ndjson": f"{url}/results?format=ndjson",
        },
    }


def stream_results(
    fmt: str, job: JobView, rows: Iterator[ResultRow], outputs: Sequence[str]
) -> Iterator[bytes]:
    if fmt == "ndjson":
        return (orjson.dumps(row.as_json()) + b"\n" for row in rows)
    if fmt == "csv":
        return _csv(rows, outputs)
    return _json(job, rows)


def _json(job: JobView, rows: Iterator[ResultRow]) -> Iterator[bytes]:
    head = {"job": job.id, "status": job.status.value, "complete": job.terminal}
    yield orjson.dumps(head)[:-1] + b',"rows":['
    for index, row in enumerate(rows):
        yield (b"," if index else b"") + orjson.dumps(row.as_json())
    yield b"]}"


def _csv(rows: Iterator[ResultRow], outputs: Sequence[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["seq", "patient", "asOf", "status", *outputs, "reason", "riskAssessment"])
    for row in rows:
        values = row.outputs or {}
        writer.writerow(
            [
                row.seq,
                row.patient_ref or "",
                _instant(row.as_of) or "",
                row.status,
                *("" if values.get(name) is None else repr(float(values[name])) for name in outputs),  # type: ignore[arg-type]
                row.reason or "",
                row.written_back or "",
            ]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def _instant(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
