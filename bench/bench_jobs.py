"""Population-scoring throughput of one worker process: patients scored per second, by data source.

Sources (each runs the code the job's units run, in this process: one process = one worker's pool slot):

* ``ndjson``  local Bulk Data NDJSON files (the Synthea patients, copied ``--copies`` times under new ids):
  parse, group by patient, map, one batched model run per chunk;
* ``search``  the test FHIR server (sekmet-fhir) read patient by patient with the mapping's paged
  searches, ``CDS_FHIR_PARALLEL`` requests at a time, then the same scoring;
* ``export``  the same server's Bulk Data ``Group/$export`` (kick-off, poll, NDJSON download), then scoring.

    .venv/bin/python bench/bench_jobs.py [--copies 40] [--chunk 100] [--model ascvd-pce] [--json out.json]

Needs ../shared/data/synthea-r4 (or CDS_SHARED_DIR). The execution provider is the model registry's
(CUDA when the deployment and the onnxruntime build have it); it is printed with the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_server.features import load_mappings
from cds_server.fhir.backend_client import BackendClient
from cds_server.fhir.backends import Backend
from cds_server.fhir.backends import BackendDeclaration
from cds_server.inference import ModelRegistry
from cds_server.jobs.population import charts_by_patient
from cds_server.jobs.population import read_charts
from cds_server.jobs.population import score_charts
from cds_server.jobs.scoring import layout_prefetch
from cds_server.jobs.scoring import template_type
from tests.support.backends import put_group
from tests.support.fhir_server import FhirTestServer
from tests.support.paths import REPO_ROOT
from tests.support.synthea import as_put_transaction
from tests.support.synthea import bundle_files
from tests.support.synthea import load_bundle

AS_OF = datetime(2020, 6, 1, tzinfo=UTC)
MAPPING_FOR = {
    "ascvd-pce": "ascvd_pce",
    "prevent": "prevent",
    "news2": "news2",
    "diabetes-progression": "diabetes_progression",
}


def synthea_resources(copies: int, types: set[str]) -> Iterator[dict[str, Any]]:
    """Every Synthea resource of ``types``, ``copies`` times, with ids (and references) made unique."""
    for path in bundle_files():
        text = json.dumps(as_put_transaction(load_bundle(path)))
        for copy in range(copies):
            bundle = json.loads(
                text.replace("Patient/", f"Patient/c{copy}-").replace('"id": "', f'"id": "c{copy}-')
            )
            for entry in bundle["entry"]:
                if entry["resource"]["resourceType"] in types:
                    yield entry["resource"]


def write_ndjson(folder: Path, resources: Iterator[dict[str, Any]]) -> list[Path]:
    files: dict[str, Any] = {}
    for resource in resources:
        kind = resource["resourceType"]
        if kind not in files:
            files[kind] = (folder / f"{kind}.ndjson").open("wb")
        files[kind].write(orjson.dumps(resource) + b"\n")
    for handle in files.values():
        handle.close()
    return sorted(folder.glob("*.ndjson"))


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def score_all(
    models: ModelRegistry, mapping: Any, model: str, charts: list[tuple[str, Any]], chunk: int
) -> tuple[int, float]:
    started = time.perf_counter()
    scored = 0
    for offset, part in enumerate(chunks(charts, chunk)):
        rows = score_charts(models, mapping, model, part, as_of=AS_OF, offset=offset * chunk)
        scored += sum(row.status == "scored" for row in rows)
    return scored, time.perf_counter() - started


def run(copies: int, chunk: int, model: str) -> dict[str, Any]:
    mapping = load_mappings(REPO_ROOT / "fhir_mappings").get(MAPPING_FOR[model])
    models = ModelRegistry.load(REPO_ROOT / "model_artifacts")
    provider = models.status()[model].provider
    types = {template_type(query) for query in mapping.prefetch.values()}
    results: list[dict[str, Any]] = []

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = write_ndjson(folder, synthea_resources(copies, types))
        started = time.perf_counter()
        resources = (orjson.loads(line) for path in files for line in path.read_bytes().splitlines() if line)
        grouped = charts_by_patient(resources)
        charts = [(c["id"], layout_prefetch(mapping, c["id"], c["resources"])) for c in grouped]
        read_s = time.perf_counter() - started
        scored, score_s = score_all(models, mapping, model, charts, chunk)
        results.append(_row("ndjson", len(charts), scored, read_s, score_s))

        (folder / "fhir").mkdir()
        server = FhirTestServer(folder / "fhir", auth="none")
        try:
            server.load(bundle_files())
            ids = [str(load_bundle(p)["entry"][0]["resource"]["id"]) for p in bundle_files()]
            put_group(server, "bench", ids)
            backend = Backend(
                "bench",
                BackendDeclaration.model_validate(
                    {"baseUrl": server.base_url, "auth": {"type": "none"}, "pageSize": 200}
                ),
                None,
            )
            with BackendClient(backend, timeout_s=30, max_pages=200) as client:
                started = time.perf_counter()
                charts = list(read_charts(client, mapping, ids, as_of=AS_OF, parallel=4, check=lambda: None))
                read_s = time.perf_counter() - started
                scored, score_s = score_all(models, mapping, model, charts, chunk)
                results.append(_row("search", len(charts), scored, read_s, score_s))

                started = time.perf_counter()
                exported = charts_by_patient(
                    client.export("Group/bench", sorted(types), deadline=time.monotonic() + 120)
                )
                charts = [(c["id"], layout_prefetch(mapping, c["id"], c["resources"])) for c in exported]
                read_s = time.perf_counter() - started
                scored, score_s = score_all(models, mapping, model, charts, chunk)
                results.append(_row("export", len(charts), scored, read_s, score_s))
        finally:
            server.stop()
    return {"model": model, "provider": provider, "chunk": chunk, "copies": copies, "results": results}


def _row(source: str, patients: int, scored: int, read_s: float, score_s: float) -> dict[str, Any]:
    total = read_s + score_s
    return {
        "source": source,
        "patients": patients,
        "scored": scored,
        "read_s": round(read_s, 3),
        "score_s": round(score_s, 3),
        "patients_per_s": round(patients / total, 1) if total else None,
        "scoring_patients_per_s": round(patients / score_s, 1) if score_s else None,
    }


def print_table(report: dict[str, Any]) -> None:
    print(
        f"model {report['model']} on {report['provider']}, chunks of {report['chunk']} (one worker process)"
    )
    header = ("source", "patients", "scored", "read s", "score s", "patients/s", "scoring only")
    print(f"{header[0]:8} " + " ".join(f"{name:>12}" for name in header[1:]))
    for row in report["results"]:
        cells = (row["patients"], row["scored"], row["read_s"], row["score_s"])
        rates = (row["patients_per_s"], row["scoring_patients_per_s"])
        print(f"{row['source']:8} " + " ".join(f"{cell:>12}" for cell in (*cells, *rates)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--copies", type=int, default=40, help="Copies of each Synthea patient in the NDJSON run."
    )
    parser.add_argument("--chunk", type=int, default=100, help="Patients per chunk (one batched model run).")
    parser.add_argument("--model", default="ascvd-pce", choices=sorted(MAPPING_FOR))
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    report = run(args.copies, args.chunk, args.model)
    print_table(report)
    if args.json:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
