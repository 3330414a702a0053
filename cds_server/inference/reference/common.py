"""Pieces every reference model's build shares: release date, versions, population summaries."""

from __future__ import annotations

import importlib
import platform
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from cds_server.inference.reference.onnx_graph import IR_VERSION
from cds_server.inference.reference.onnx_graph import OPSET
from cds_server.inference.reference.onnx_graph import PRODUCER_VERSION
from cds_server.inference.reference.spec import ReferencePopulation

#: Fixed, so that rebuilding does not change the cards; bump with each reviewed release.
RELEASE_DATE = "2026-11-29"
BUILD_SCRIPT = "scripts/build_reference_models.py"


def library_versions(*extra: str) -> dict[str, str]:
    """Versions of the libraries that shaped the artifact (not part of the reproducibility check).

    Read from the modules themselves: the onnxruntime module may come from either wheel.
    """
    modules = {
        "numpy": "numpy",
        "onnx": "onnx",
        "onnxruntime": "onnxruntime",
        "scikit-learn": "sklearn",
        "skl2onnx": "skl2onnx",
    }
    names = ("numpy", "onnx", "onnxruntime", *extra)
    return {"python": platform.python_version(), **{name: _version(modules[name]) for name in names}}


def onnx_helper_converter() -> dict[str, str]:
    return {"name": "onnx.helper (hand-built graph)", "version": _version("onnx")}


def equation_build_info(module: str) -> dict[str, Any]:
    return {
        "script": BUILD_SCRIPT,
        "module": module,
        "builder_version": PRODUCER_VERSION,
        "opset": OPSET,
        "ir_version": IR_VERSION,
        "deterministic": True,
        "random_seeds": "none (no randomness)",
    }


def population_from(
    rows: list[dict[str, float | None]],
    *,
    measured: Iterable[str],
    flags: Iterable[str],
    patients: int | None,
    description: str,
    source: str,
    method: str,
    distributions_of: Callable[..., dict[str, dict[str, Any]]],
    unavailable: Mapping[str, str] | None = None,
) -> ReferencePopulation:
    found = distributions_of(rows, measured=measured, flags=flags)
    for name, reason in (unavailable or {}).items():
        found[name] = {"unavailable": reason}
    return ReferencePopulation(
        source=source,
        description=description,
        method=method,
        n_rows=len(rows),
        n_patients=patients,
        distributions=found,
    )


def _version(module: str) -> str:
    try:
        version: str = importlib.import_module(module).__version__
    except ImportError:
        return "not installed"
    return version


def describe_sample(snapshots: Iterable[Any], *, ages: str) -> str:
    """One sentence on who the Synthea reference rows are, computed rather than typed."""
    rows = list(snapshots)
    patients = {row.patient for row in rows}
    men = sum(row.male for row in rows) / len(rows) if rows else 0.0
    black = sum(row.black for row in rows) / len(rows) if rows else 0.0
    return (
        f"{len(rows)} visits of {len(patients)} synthetic Synthea patients aged {ages} ({men:.0%} of visits "
        f"by men, {black:.0%} by Black patients)"
    )
