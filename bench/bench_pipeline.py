"""In-process pipeline benchmark: each step of a hook call, per reference service and prefetch size.

Steps (each timed on its own, then the whole call through the real app, called as gunicorn calls it):
parse (orjson + envelope checks + request model), prefetch classification, extract (compiled
mapping), infer (onnxruntime: the patient's row plus the what-if rows, one batch), cards, audit
(one committed audit row + decision on the configured database), and the whole call.

    .venv/bin/python bench/bench_pipeline.py [--repeat 300] [--database-url URL] [--json out.json]

Without ``--database-url`` the embedded default (SQLite in a temporary folder) is used.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from werkzeug.test import EnvironBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ehr_client import BenchClient
from bench.requests import REFERENCE_TIME
from bench.requests import body_bytes
from bench.requests import patient_view
from bench.stats import median_p99
from cds_server import create_app
from cds_server.api.body import structure_of
from cds_server.fhir.client import UnavailableFetcher
from cds_server.hooks.decisions import CallRecord
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.prefetch import complete_prefetch
from cds_server.hooks.request import parse_hook_request
from cds_server.hooks.service import HookCall
from cds_server.services.model_service import ModelServiceHandler
from cds_server.services.model_service import _scored
from cds_server.services.policy import build_cards
from cds_server.state import get_state

SERVICES = ("ascvd-risk", "prevent-risk", "news2", "diabetes-progression")
#: prefetch sizes by number of latest Observations: 200 is the reference request (~190 KB of them)
SIZES = {"~50KB": 40, "ref-200obs": 200, "~300KB": 320}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples, result


def bench_service(
    app: Any, client: BenchClient, service_id: str, request: dict[str, Any], repeat: int
) -> dict[str, Any]:
    state = get_state(app)
    service = state.registry.get(service_id, "patient-view")
    handler = service.handler
    assert isinstance(handler, ModelServiceHandler)
    now = datetime.fromisoformat(REFERENCE_TIME)
    raw = body_bytes(request)
    steps: dict[str, dict[str, float]] = {}

    def parse() -> Any:
        body = orjson.loads(raw)
        structure_of(raw)
        return parse_hook_request(body)

    samples, hook_request = timed(parse, repeat)
    steps["parse"] = median_p99(samples)
    fetcher = UnavailableFetcher("benchmark: complete prefetch")
    samples, prefetch = timed(
        lambda: complete_prefetch(
            service, hook_request, fetcher=fetcher, today=now.date(), deadline=time.monotonic() + 2
        ),
        repeat,
    )
    assert not prefetch.missing_required, prefetch.missing_required
    steps["prefetch"] = median_p99(samples)
    call = HookCall(service, hook_request, prefetch.values, prefetch.unavailable, now)
    samples, features = timed(lambda: handler.extract(call), repeat)
    steps["extract"] = median_p99(samples)
    samples, (batch, labels) = timed(lambda: handler._score(features), repeat)
    steps["infer"] = median_p99(samples)
    scored = _scored(batch, labels)
    samples, _cards = timed(
        lambda: build_cards(
            handler.policy, features, scored, patient_id=hook_request.patient_id or "", now=now
        ),
        repeat,
    )
    steps["cards"] = median_p99(samples)
    answer = handler(call)

    def audit() -> Any:
        return state.decisions.record(
            CallRecord(
                request_id=uuid.uuid4().hex,
                received_at=now,
                client=ClientIdentity(issuer="urn:bench"),
                service_id=service_id,
                hook="patient-view",
                hook_instance=str(uuid.uuid4()),
                user_ref="Practitioner/bench",
                patient_ref=f"Patient/{hook_request.patient_id}",
                status=200,
                outcome=0,
                latency_ms=1.0,
                answer=answer,
            )
        )

    samples, _ = timed(audit, repeat)
    steps["audit"] = median_p99(samples)
    # An EHR's call carries a fresh JWT each time: minted and put into a WSGI environ outside the
    # timing; verification, the replay check and the rate limit are inside it, as in production.
    # The app is called as gunicorn calls it, so the figure is the server's own time.
    url = f"{get_state(app).settings.public_base_url}/cds-services/{service_id}"
    environs = [
        EnvironBuilder(
            path=f"/cds-services/{service_id}",
            method="POST",
            data=body_bytes(request),
            content_type="application/json",
            headers={"Authorization": f"Bearer {token}"},
        ).get_environ()
        for token in client.mint(url, repeat)
    ]

    def whole() -> bytes:
        statuses: list[str] = []
        chunks = app(environs.pop(), lambda status, headers, exc_info=None: statuses.append(status))
        response = b"".join(chunks)
        assert statuses == ["200 OK"], response[:300]
        return response

    samples, response = timed(whole, repeat)
    steps["whole call"] = median_p99(samples)
    cards = len(orjson.loads(response)["cards"])
    return {"service": service_id, "bytes": len(raw), "cards": cards, "steps": steps}


def run(repeat: int, database_url: str | None, redis_url: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        config: dict[str, Any] = {"reference_time": REFERENCE_TIME, "log_level": "WARNING"}
        config["database_url"] = database_url or f"sqlite:///{folder}/bench.db"
        if redis_url:
            config["redis_url"] = redis_url  # the JWT replay store of production
        client = BenchClient()
        config["clients_file"] = str(client.write_clients_file(Path(folder)))
        config["dev_client"] = False
        app = create_app(config)
        gc.freeze()
        results = []
        registry = get_state(app).registry
        for size, observations in SIZES.items():
            for service_id in SERVICES:
                keys = tuple(spec.key for spec in registry.get(service_id, "patient-view").prefetch)
                request = patient_view(observations=observations, keys=keys)
                result = bench_service(app, client, service_id, request, repeat)
                result["size"] = size
                results.append(result)
        get_state(app).close()
    return {"database": "postgresql" if database_url else "sqlite", "repeat": repeat, "results": results}


def print_table(report: dict[str, Any]) -> None:
    print(f"In-process pipeline ({report['database']}, {report['repeat']} runs each): median / p99 ms")
    steps = ["parse", "prefetch", "extract", "infer", "cards", "audit", "whole call"]
    print(f"{'service':22} {'size':6} {'bytes':>7} " + " ".join(f"{s:>15}" for s in steps))
    for result in report["results"]:
        cells = " ".join(
            f"{result['steps'][s]['median_ms']:7.3f}/{result['steps'][s]['p99_ms']:7.3f}" for s in steps
        )
        print(f"{result['service']:22} {result['size']:6} {result['bytes']:7d} {cells}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url", help="JWT replay store (default: the database)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = run(args.repeat, args.database_url, args.redis_url)
    print_table(report)
    if args.json:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
