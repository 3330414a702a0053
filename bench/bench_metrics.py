"""What the metrics add to one hook call, in prometheus_client's two modes.

Per hook call the server records: the request latency (one histogram observation, after the service
and hook labels are checked against the registry), one counter per card, and one histogram
observation per onnxruntime run (two clock reads each). This times exactly that work, many times
over, in a fresh process per mode (the mode is fixed when prometheus_client is imported):

    .venv/bin/python bench/bench_metrics.py [--calls 200000]

``single``: one process (``gunicorn cds_server.wsgi:app`` without a directory, tests, the benchmark
of the whole pipeline); ``multiprocess``: ``cds-server serve``, samples written to memory-mapped files.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
sys.path.insert(0, {root!r})
from cds_server.hooks.registry import ServiceRegistry
from cds_server.hooks.service import CdsService
from cds_server.telemetry.metrics import count_card, observe_hook_call, observe_inference

registry = ServiceRegistry()
for service_id in ("ascvd-risk", "prevent-risk", "news2", "diabetes-progression", "statin-therapy"):
    registry.register(CdsService(id=service_id, hook="patient-view", description="x", handler=lambda c: []))

def per_call():
    started = time.perf_counter()                       # the inference observer's two clock reads
    seconds = time.perf_counter() - started
    observe_inference("ascvd-pce", "1.0.0", "CPUExecutionProvider", "active", seconds)
    count_card("ascvd-risk", "warning")                 # one card
    hooks = registry.hooks_of("ascvd-risk")             # bounding the labels
    hook = "patient-view" if "patient-view" in hooks else "other"
    observe_hook_call("ascvd-risk", hook, 200, 0.003)   # the request latency

calls = {calls}
for _ in range(1000):
    per_call()
rounds = []
for _ in range(5):
    started = time.perf_counter()
    for _ in range(calls):
        per_call()
    rounds.append((time.perf_counter() - started) / calls * 1e6)
print(json.dumps(rounds))
"""


def run(mode: str, calls: int) -> list[float]:
    env = {name: value for name, value in os.environ.items() if name != "PROMETHEUS_MULTIPROC_DIR"}
    with tempfile.TemporaryDirectory() as directory:
        if mode == "multiprocess":
            env["PROMETHEUS_MULTIPROC_DIR"] = directory
        code = CHILD.format(root=str(ROOT), calls=calls)
        output = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout
    rounds: list[float] = json.loads(output)
    return rounds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    print("metrics recorded per hook call (latency + 1 card + 1 model run), microseconds, 5 rounds")
    for mode in ("single", "multiprocess"):
        rounds = run(mode, args.calls)
        print(
            f"{mode:13} median {statistics.median(rounds):6.2f} µs   min {min(rounds):6.2f}   max {max(rounds):6.2f}"
        )


if __name__ == "__main__":
    main()
