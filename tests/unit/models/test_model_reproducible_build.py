"""The committed artifacts are exactly what scripts/build_reference_models.py produces."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from cds_server.inference import build_reference_models
from cds_server.inference.reference import find_synthea_dir

COMMITTED = Path(__file__).resolve().parents[3] / "model_artifacts"
OPERATOR_DEPLOYMENT = (
    "active: '1.0.0'\nshadow: []\nproviders: [CUDAExecutionProvider, CPUExecutionProvider]\n"
)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rebuilt")
    # Deployment is operator configuration: a build must never overwrite an existing one.
    (out / "news2").mkdir()
    (out / "news2" / "deployment.yaml").write_text(OPERATOR_DEPLOYMENT, encoding="utf-8")
    build_reference_models(out, synthea_dir=find_synthea_dir())
    return out


def _card(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.slow
@pytest.mark.parametrize("model_id", ["ascvd-pce", "prevent", "news2", "diabetes-progression"])
def test_rebuilding_gives_the_committed_sha256_and_card(rebuilt: Path, model_id: str) -> None:
    committed_card = _card(COMMITTED / model_id / "1.0.0" / "model-card.yaml")
    rebuilt_bytes = (rebuilt / model_id / "1.0.0" / "model.onnx").read_bytes()
    rebuilt_card = _card(rebuilt / model_id / "1.0.0" / "model-card.yaml")

    assert (
        hashlib.sha256((COMMITTED / model_id / "1.0.0" / "model.onnx").read_bytes()).hexdigest()
        == (committed_card["artifact"]["sha256"])
    )
    then, now = committed_card["artifact"]["libraries"], rebuilt_card["artifact"]["libraries"]
    assert hashlib.sha256(rebuilt_bytes).hexdigest() == committed_card["artifact"]["sha256"], (
        "the build no longer reproduces the committed model; rebuild with scripts/build_reference_models.py "
        f"(libraries then: {then}, now: {now})"
    )
    # Library versions are recorded for provenance but are not part of what must reproduce.
    for card in (committed_card, rebuilt_card):
        del card["artifact"]["libraries"]
    assert rebuilt_card == committed_card


def test_rebuilding_writes_the_schema_and_deployments_but_keeps_existing_ones(rebuilt: Path) -> None:
    assert (rebuilt / "schema" / "model-card.schema.json").read_bytes() == (
        COMMITTED / "schema" / "model-card.schema.json"
    ).read_bytes()
    assert (rebuilt / "news2" / "deployment.yaml").read_text(encoding="utf-8") == OPERATOR_DEPLOYMENT
    for model_id in ("ascvd-pce", "prevent", "diabetes-progression"):
        written = (rebuilt / model_id / "deployment.yaml").read_text(encoding="utf-8")
        assert written == (COMMITTED / model_id / "deployment.yaml").read_text(encoding="utf-8")
