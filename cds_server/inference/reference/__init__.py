"""Build the four reference models and their cards, reproducibly.

``build_reference_models(out_dir)`` writes, for each model, ``<id>/<version>/model.onnx`` and
``model-card.yaml``, plus ``<id>/deployment.yaml`` when there is none (deployment is operator
configuration: an existing one is never overwritten), and the exported card schema. Rerunning it
rewrites identical bytes.

Build-time dependencies (the ``test`` extra, not the server's): scikit-learn, skl2onnx, onnx.
The equation models' drift baselines come from the Synthea sample in ``shared/data/synthea-r4``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cds_server.inference.card_schema import schema_json
from cds_server.inference.reference.card_writer import card_yaml
from cds_server.inference.reference.spec import ReferenceModel

SYNTHEA_ENV = "CDS_SYNTHEA_DIR"
SHARED_ENV = "CDS_SHARED_DIR"


@dataclass(frozen=True, slots=True)
class BuildResult:
    model_id: str
    version: str
    sha256: str
    size_bytes: int
    directory: Path


def build_reference_models(out_dir: Path, *, synthea_dir: Path | None = None) -> list[BuildResult]:
    """Write every reference model into ``out_dir``; see the module docstring.

    :raise FileNotFoundError: the Synthea sample cannot be found (pass ``synthea_dir``, or set
        ``CDS_SYNTHEA_DIR`` / ``CDS_SHARED_DIR``).
    """
    # Imported here: building needs scikit-learn and skl2onnx, which the server does not.
    from cds_server.inference.reference import diabetes
    from cds_server.inference.reference import news2
    from cds_server.inference.reference import pce
    from cds_server.inference.reference import prevent

    population_dir = synthea_dir or find_synthea_dir()
    models = (
        pce.reference_model(population_dir),
        prevent.reference_model(population_dir),
        news2.reference_model(),
        diabetes.reference_model(),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    schema_dir = out_dir / "schema"
    schema_dir.mkdir(exist_ok=True)
    _write_if_changed(schema_dir / "model-card.schema.json", schema_json().encode())
    return [_write_model(out_dir, model) for model in models]


def find_synthea_dir() -> Path:
    """Where the Synthea sample is.

    ``CDS_SYNTHEA_DIR``, else ``$CDS_SHARED_DIR/data/synthea-r4``, else ``../shared`` beside the checkout.
    """
    candidates: list[Path] = []
    if os.environ.get(SYNTHEA_ENV):
        candidates.append(Path(os.environ[SYNTHEA_ENV]))
    if os.environ.get(SHARED_ENV):
        candidates.append(Path(os.environ[SHARED_ENV]) / "data" / "synthea-r4")
    repository = Path(__file__).resolve().parents[3]
    candidates += [
        repository.parent / "shared" / "data" / "synthea-r4",
        repository / "shared" / "data" / "synthea-r4",
    ]
    for candidate in candidates:
        if any(candidate.glob("*.json")):
            return candidate
    raise FileNotFoundError(
        "Synthea sample not found (tried "
        + ", ".join(str(path) for path in candidates)
        + "); pass synthea_dir "
        f"or set {SYNTHEA_ENV}"
    )


def _write_model(out_dir: Path, model: ReferenceModel) -> BuildResult:
    version_dir = out_dir / model.id / model.version
    version_dir.mkdir(parents=True, exist_ok=True)
    _write_if_changed(version_dir / "model.onnx", model.model_bytes)
    _write_if_changed(version_dir / "model-card.yaml", card_yaml(model).encode())
    deployment = out_dir / model.id / "deployment.yaml"
    if not deployment.exists():
        deployment.write_text(_deployment_yaml(model), encoding="utf-8")
    return BuildResult(
        model_id=model.id,
        version=model.version,
        sha256=hashlib.sha256(model.model_bytes).hexdigest(),
        size_bytes=len(model.model_bytes),
        directory=version_dir,
    )


def _deployment_yaml(model: ReferenceModel) -> str:
    # Equation and score graphs are a few dozen scalar ops: a GPU only adds copies, so they stay on CPU.
    providers = "" if model.model_type == "trained" else "providers: [CPUExecutionProvider]\n"
    return f"active: '{model.version}'\nshadow: []\n{providers}"


def _write_if_changed(path: Path, content: bytes) -> None:
    # Leaves mtimes alone on a no-op rebuild, so reload() and file watchers see no change.
    if path.exists() and path.read_bytes() == content:
        return
    path.write_bytes(content)
