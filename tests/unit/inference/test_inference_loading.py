"""Start-up: every model loads and is checked; one bad file takes down only its own model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from cds_server.errors import ModelNotReady
from cds_server.inference import ModelRegistry
from cds_server.inference import UnknownModel

REFERENCE_MODELS = {"ascvd-pce", "prevent", "news2", "diabetes-progression"}
PCE_ROW = np.array([55, 1, 0, 213, 50, 120, 0, 0, 0], dtype=np.float32)


def test_all_reference_models_are_ready_on_the_provider_onnxruntime_reports(registry: ModelRegistry) -> None:
    status = registry.status()
    assert set(status) == REFERENCE_MODELS
    for model_status in status.values():
        assert model_status.ready, model_status.reason
        assert model_status.active_version == "1.0.0"
        assert model_status.reason is None
        assert model_status.provider == "CPUExecutionProvider"


def test_reported_provider_is_the_sessions_first_provider_not_the_available_list(
    committed_artifacts: Path,
) -> None:
    # Ask for CUDA first: on a CPU build it is filtered out, and what we report must be what
    # the session actually runs on, whatever get_available_providers() claims.
    registry = ModelRegistry.load(
        committed_artifacts, providers=["CUDAExecutionProvider", "CPUExecutionProvider"], overrides={}
    )
    model_bytes = (committed_artifacts / "diabetes-progression" / "1.0.0" / "model.onnx").read_bytes()
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    assert registry.status()["diabetes-progression"].provider == session.get_providers()[0]
    assert (
        registry.predict("diabetes-progression", np.ones(10, np.float32) * 50).provider
        == session.get_providers()[0]
    )


def test_status_serialises_for_a_readiness_endpoint(registry: ModelRegistry) -> None:
    entry = registry.status()["news2"].as_dict()
    assert entry["ready"] is True
    assert entry["provider"] == "CPUExecutionProvider"
    assert len(entry["sha256"]) == 64
    assert entry["shadow"] == []


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "file_name", "expected_reason"),
    [
        (_truncate, "model.onnx", "sha256 mismatch"),
        (_flip_a_byte, "model.onnx", "sha256 mismatch"),
        (Path.unlink, "model.onnx", "missing"),
        (Path.unlink, "model-card.yaml", "missing"),
        (
            lambda path: path.write_text("id: [unclosed", encoding="utf-8"),
            "model-card.yaml",
            "not valid YAML",
        ),
        (lambda path: path.write_text("id: ascvd-pce\n", encoding="utf-8"), "model-card.yaml", "card schema"),
    ],
    ids=["truncated-onnx", "corrupt-onnx", "missing-onnx", "missing-card", "broken-yaml", "invalid-card"],
)
def test_a_bad_file_keeps_only_its_model_not_ready_with_a_reason(
    repository: Path,
    load: Callable[..., ModelRegistry],
    damage: Callable[[Path], object],
    file_name: str,
    expected_reason: str,
) -> None:
    bad_file = repository / "ascvd-pce" / "1.0.0" / file_name
    damage(bad_file)

    registry = load()
    status = registry.status()

    assert not status["ascvd-pce"].ready
    assert expected_reason in (status["ascvd-pce"].reason or "")
    assert str(bad_file) in (status["ascvd-pce"].reason or "")
    assert all(status[model_id].ready for model_id in REFERENCE_MODELS - {"ascvd-pce"})
    with pytest.raises(ModelNotReady) as raised:
        registry.predict("ascvd-pce", PCE_ROW)
    assert str(repository) not in raised.value.message  # server paths stay out of HTTP bodies
    assert registry.predict("prevent", np.array([50, 1, 200, 45, 160, 1, 0, 1, 0, 90, 35], np.float32)).usable


def test_a_model_whose_card_pins_another_sha256_is_refused_even_if_the_graph_is_valid(
    repository: Path, load: Callable[..., ModelRegistry]
) -> None:
    # A valid graph, but not the one the card vouches for: swap in another model's file.
    news2 = (repository / "news2" / "1.0.0" / "model.onnx").read_bytes()
    (repository / "ascvd-pce" / "1.0.0" / "model.onnx").write_bytes(news2)

    status = load().status()["ascvd-pce"]

    assert not status.ready
    assert hashlib.sha256(news2).hexdigest() in (status.reason or "")


def test_card_stays_readable_when_the_model_file_is_bad(
    repository: Path, load: Callable[..., ModelRegistry]
) -> None:
    _truncate(repository / "prevent" / "1.0.0" / "model.onnx")
    registry = load()
    assert registry.card("prevent").name.startswith("AHA PREVENT")


@pytest.mark.parametrize(
    ("deployment", "expected_reason"),
    [
        (None, "missing"),
        ("active: '9.9.9'\n", "deployed version does not exist"),
        ("active: 1.10\n", "version string"),
        ("shadow: []\n", "'active'"),
        ("active: '1.0.0'\nshadow: ['1.0.0']\n", "both active and shadow"),
        ("active: '1.0.0'\nproviders: [OpenVINOExecutionProvider]\n", "unsupported execution providers"),
    ],
    ids=["missing", "unknown-version", "unquoted-number", "no-active", "active-is-shadow", "bad-provider"],
)
def test_a_bad_deployment_keeps_only_its_model_not_ready(
    repository: Path, load: Callable[..., ModelRegistry], deployment: str | None, expected_reason: str
) -> None:
    path = repository / "news2" / "deployment.yaml"
    if deployment is None:
        path.unlink()
    else:
        path.write_text(deployment, encoding="utf-8")

    status = load().status()

    assert not status["news2"].ready
    assert expected_reason in (status["news2"].reason or "")
    assert status["ascvd-pce"].ready


def test_a_graph_whose_inputs_contradict_the_card_is_refused(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    def rename_input(card: dict) -> None:
        card["input_tensor"]["name"] = "x"

    add_version("news2", "1.0.1", edit=rename_input)
    deploy("news2", "1.0.1")

    status = load().status()["news2"]

    assert not status.ready
    assert "graph input is features" in (status.reason or "")


def test_a_self_test_that_does_not_reproduce_keeps_the_model_out_of_service(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    def expect_the_wrong_answer(card: dict) -> None:
        card["self_test"][0]["expected"]["risk_10y"] = 0.5

    add_version("ascvd-pce", "1.0.1", edit=expect_the_wrong_answer)
    deploy("ascvd-pce", "1.0.1")

    status = load().status()["ascvd-pce"]

    assert not status.ready
    assert "self-test '55-year-old white woman' failed on CPUExecutionProvider" in (status.reason or "")


def test_unknown_model_is_its_own_error(registry: ModelRegistry) -> None:
    with pytest.raises(UnknownModel):
        registry.predict("no-such-model", PCE_ROW)
    with pytest.raises(UnknownModel):
        registry.card("ascvd-pce", version="0.0.1")


def test_a_missing_repository_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a directory"):
        ModelRegistry.load(tmp_path / "nowhere", providers=["CPUExecutionProvider"], overrides={})
