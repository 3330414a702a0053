#!/usr/bin/env python3
"""GPU check for the model runtime: is CUDA really used, does it agree with CPU, is it faster?

    python bench/gpu_check.py results.json [--models-dir model_artifacts]

Needs the ``gpu`` extra (onnxruntime-gpu) and an NVIDIA GPU with CUDA 12/13 and cuDNN 9 libraries
(see model_artifacts/README.md). Exits non-zero when any check fails; prints a table and writes
every number to the JSON file. Runs in well under five minutes.

Checks, on the diabetes-progression MLP (the one reference model meant for a GPU):
  1. the registry, asked for CUDA then CPU, reports CUDAExecutionProvider for the model, and that
     is ``session.get_providers()[0]`` of a session built the same way;
  2. CUDA and CPU outputs agree within 1e-5 (relative) on 4096 rows spanning the training ranges,
     and on the card's self-test rows;
  3. throughput on CPU and CUDA at batch 1, 256, 1024 and 4096.

``--device-provider CPUExecutionProvider`` runs the same code with CPU standing in for the device:
a plumbing test for hosts without a GPU. It proves nothing about CUDA and says so in its output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import yaml

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from cds_server.inference import ModelRegistry  # noqa: E402
from cds_server.inference.session import create_session  # noqa: E402
from cds_server.inference.session import resolve_providers  # noqa: E402

MODEL_ID = "diabetes-progression"
BATCHES = (1, 256, 1024, 4096)
PARITY_ROWS = 4096
RELATIVE_TOLERANCE = 1e-5
CPU = "CPUExecutionProvider"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("output", type=Path, help="write the results as JSON here")
    parser.add_argument("--models-dir", type=Path, default=REPOSITORY / "model_artifacts")
    parser.add_argument("--device-provider", default="CUDAExecutionProvider")
    args = parser.parse_args(argv)
    device = args.device_provider

    report: dict[str, Any] = {
        "environment": {
            "onnxruntime": ort.__version__,
            "available_providers": ort.get_available_providers(),
            "device_reported_by_onnxruntime": ort.get_device(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
        "device_provider": device,
        "plumbing_only": device == CPU,
        "checks": {},
    }
    checks: dict[str, dict[str, Any]] = report["checks"]
    try:
        run_checks(args.models_dir, device, report, checks)
    except Exception as error:  # report what broke, in the JSON too, then fail
        checks["unexpected_error"] = {"ok": False, "detail": f"{type(error).__name__}: {error}"}
    finally:
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print_report(report)
    return 0 if checks and all(check["ok"] for check in checks.values()) else 1


def run_checks(
    models_dir: Path, device: str, report: dict[str, Any], checks: dict[str, dict[str, Any]]
) -> None:
    if device not in ort.get_available_providers():
        checks["provider_available"] = {
            "ok": False,
            "detail": f"{device} is not in get_available_providers(): install onnxruntime-gpu (gpu extra)",
        }
        return

    version = ModelRegistry.load(models_dir, providers=[CPU], overrides={}).status()[MODEL_ID].active_version
    version_dir = models_dir / MODEL_ID / str(version)
    card = yaml.safe_load((version_dir / "model-card.yaml").read_text(encoding="utf-8"))
    model_bytes = (version_dir / "model.onnx").read_bytes()
    checks["artifact_sha256"] = {
        "ok": hashlib.sha256(model_bytes).hexdigest() == card["artifact"]["sha256"],
        "detail": card["artifact"]["sha256"],
    }

    chain = resolve_providers([device, CPU])
    registry = ModelRegistry.load(models_dir, providers=chain, overrides={})
    status = registry.status()[MODEL_ID]
    device_session = create_session(model_bytes, chain)
    cpu_session = create_session(model_bytes, [CPU])
    session_provider = device_session.get_providers()[0]
    checks["device_really_used"] = {
        "ok": status.ready and status.provider == device and session_provider == device,
        "detail": f"registry reports {status.provider}, session.get_providers()[0] = {session_provider}",
    }

    rows = parity_rows(card)
    input_name = cpu_session.get_inputs()[0].name
    on_cpu = cpu_session.run(None, {input_name: rows})[0].ravel().astype(np.float64)
    on_device = device_session.run(None, {input_name: rows})[0].ravel().astype(np.float64)
    relative = np.abs(on_device - on_cpu) / np.maximum(np.abs(on_cpu), 1e-12)
    checks["parity_cpu_vs_device"] = {
        "ok": bool(np.isfinite(on_device).all() and relative.max() <= RELATIVE_TOLERANCE),
        "detail": f"max relative difference {relative.max():.2e} over {len(rows)} rows "
        f"(max absolute {np.abs(on_device - on_cpu).max():.2e}); tolerance {RELATIVE_TOLERANCE:g}",
    }
    self_tests = [test["inputs"] for test in card["self_test"]]
    prediction_rows = np.array(
        [[test[spec["name"]] for spec in card["inputs"]] for test in self_tests], np.float32
    )
    batch = registry.predict_batch(MODEL_ID, prediction_rows)
    expected = np.array([test["expected"]["progression_1y"] for test in card["self_test"]])
    checks["registry_self_tests_on_device"] = {
        "ok": bool(np.all(np.abs(batch.outputs["progression_1y"] - expected) <= 0.01))
        and batch.provider == device,
        "detail": f"provider {batch.provider}, outputs {batch.outputs['progression_1y'].round(3).tolist()}",
    }
    report["throughput"] = throughput(cpu_session, device_session, rows, input_name)


def parity_rows(card: dict[str, Any]) -> np.ndarray:
    """Rows spread uniformly over each input's applicable range (sex code 1 or 2)."""
    generator = np.random.default_rng(0)
    columns = []
    for spec in card["inputs"]:
        if spec.get("allowed_values"):
            columns.append(generator.choice(spec["allowed_values"], PARITY_ROWS))
        else:
            bounds = spec["applicable_range"]
            columns.append(generator.uniform(bounds["min"], bounds["max"], PARITY_ROWS))
    return np.ascontiguousarray(np.stack(columns, axis=1).astype(np.float32))


def throughput(
    cpu_session: Any, device_session: Any, rows: np.ndarray, input_name: str
) -> list[dict[str, Any]]:
    table = []
    for batch in BATCHES:
        features = np.ascontiguousarray(rows[:batch])
        entry: dict[str, Any] = {"batch": batch}
        for label, session in (("cpu", cpu_session), ("device", device_session)):
            median_s = median_seconds(
                lambda session=session, features=features: session.run(None, {input_name: features})
            )
            entry[f"{label}_median_us"] = round(median_s * 1e6, 1)
            entry[f"{label}_rows_per_s"] = round(batch / median_s)
        entry["device_speedup"] = round(entry["cpu_median_us"] / entry["device_median_us"], 2)
        table.append(entry)
    return table


def median_seconds(
    call: Any, *, warmup: int = 20, budget_s: float = 2.0, max_iterations: int = 2000
) -> float:
    for _ in range(warmup):
        call()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < max_iterations and (len(samples) < 20 or time.perf_counter() < deadline):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def print_report(report: dict[str, Any]) -> None:
    environment = report["environment"]
    print(f"onnxruntime {environment['onnxruntime']}; available {environment['available_providers']}")
    if report["plumbing_only"]:
        print("PLUMBING RUN: CPU stands in for the device; nothing here says anything about CUDA.")
    for name, check in report["checks"].items():
        print(f"  [{'PASS' if check['ok'] else 'FAIL'}] {name}: {check['detail']}")
    if "throughput" in report:
        header = ("batch", "CPU us", "CPU rows/s", "device us", "device rows/s", "speedup")
        print(
            "".join(f"{label:>{width}}" for label, width in zip(header, (6, 11, 15, 11, 15, 9), strict=True))
        )
        for entry in report["throughput"]:
            print(
                f"{entry['batch']:>6} {entry['cpu_median_us']:>10.1f} {entry['cpu_rows_per_s']:>14,} "
                f"{entry['device_median_us']:>10.1f} {entry['device_rows_per_s']:>14,} "
                f"{entry['device_speedup']:>8.2f}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
