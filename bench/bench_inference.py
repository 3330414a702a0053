#!/usr/bin/env python3
"""CPU inference latency and throughput of the reference models.

    python bench/bench_inference.py [results.json] [--models-dir model_artifacts] [--quick]

For each model, with the server's own session options (1 intra-op thread, no spinning):
batch-1 ``session.run`` latency (median and p99), the same with IOBinding (input and output bound
once, as a worker would), ``ModelRegistry.predict`` (the server's whole wrapper: checks,
applicability, result object), and throughput at larger batches. Times are wall-clock
``perf_counter_ns`` after a warm-up; p99 on a shared VM is noisy, read medians first.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from cds_server.inference import ModelRegistry  # noqa: E402
from cds_server.inference.session import create_session  # noqa: E402

BATCHES = (32, 256, 1024, 4096)


def timings_us(call: Callable[[], object], iterations: int, warmup: int) -> np.ndarray:
    for _ in range(warmup):
        call()
    samples = np.empty(iterations, dtype=np.float64)
    for index in range(iterations):
        start = time.perf_counter_ns()
        call()
        samples[index] = time.perf_counter_ns() - start
    return samples / 1000.0


def summary(samples: np.ndarray) -> dict[str, float]:
    return {
        "median_us": round(float(np.median(samples)), 2),
        "p99_us": round(float(np.percentile(samples, 99)), 2),
    }


def example_rows(card: dict[str, Any], batch: int) -> np.ndarray:
    first = card["self_test"][0]["inputs"]
    row = np.array([first[spec["name"]] for spec in card["inputs"]], dtype=np.float32)
    return np.ascontiguousarray(np.tile(row, (batch, 1)))


def bench_model(
    models_dir: Path, registry: ModelRegistry, model_id: str, *, iterations: int
) -> dict[str, Any]:
    version = registry.status()[model_id].active_version
    version_dir = models_dir / model_id / str(version)
    card = yaml.safe_load((version_dir / "model-card.yaml").read_text(encoding="utf-8"))
    session = create_session((version_dir / "model.onnx").read_bytes(), ["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    output_names = [output.name for output in session.get_outputs()]
    row = example_rows(card, 1)

    binding = session.io_binding()
    binding.bind_cpu_input(input_name, row)
    for output in session.get_outputs():
        dtype = np.float64 if output.type == "tensor(double)" else np.float32
        binding.bind_ortvalue_output(
            output.name, ort.OrtValue.ortvalue_from_numpy(np.empty((1, 1), dtype=dtype))
        )

    result: dict[str, Any] = {
        "model": model_id,
        "size_bytes": (version_dir / "model.onnx").stat().st_size,
        "batch1_run": summary(
            timings_us(lambda: session.run(output_names, {input_name: row}), iterations, 200)
        ),
        "batch1_iobinding": summary(timings_us(lambda: session.run_with_iobinding(binding), iterations, 200)),
        "batch1_registry_predict": summary(
            timings_us(lambda: registry.predict(model_id, row[0], with_shadow=False), iterations, 200)
        ),
        "throughput_rows_per_s": {},
    }
    for batch in BATCHES:
        rows = example_rows(card, batch)
        repeats = max(20, iterations // max(1, batch // 32))
        median = float(
            np.median(
                timings_us(lambda rows=rows: session.run(output_names, {input_name: rows}), repeats, 10)
            )
        )
        result["throughput_rows_per_s"][str(batch)] = round(batch / (median / 1e6))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", nargs="?", type=Path, help="write the results as JSON here")
    parser.add_argument("--models-dir", type=Path, default=REPOSITORY / "model_artifacts")
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    args = parser.parse_args(argv)

    iterations = 300 if args.quick else 3000
    registry = ModelRegistry.load(args.models_dir, providers=["CPUExecutionProvider"], overrides={})
    results = [
        bench_model(args.models_dir, registry, model_id, iterations=iterations)
        for model_id in sorted(registry.status())
    ]

    print(
        f"onnxruntime {ort.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print(
        f"{'model':22} {'run b1 med/p99 us':>18} {'iobind b1 med/p99':>18} {'predict() med/p99':>18}"
        "  rows/s at " + "/".join(map(str, BATCHES))
    )
    for entry in results:
        cells = [entry[key] for key in ("batch1_run", "batch1_iobinding", "batch1_registry_predict")]
        timing = " ".join(f"{cell['median_us']:>8.1f}/{cell['p99_us']:<9.1f}" for cell in cells)
        throughput = " / ".join(f"{value:,}" for value in entry["throughput_rows_per_s"].values())
        print(f"{entry['model']:22} {timing}  {throughput}")
    if args.output:
        environment = {
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        }
        args.output.write_text(json.dumps({"environment": environment, "models": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
