"""Shadow versions and reloading without a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from cds_server.inference import DeploymentOverride
from cds_server.inference import ModelRegistry

NEWS2_ROW = np.array([21, 93, 0, 37.5, 120, 95, 1, 0], dtype=np.float32)


def test_shadow_versions_run_on_the_same_inputs_and_come_back_separately(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    add_version("news2", "1.1.0")
    deploy("news2", "1.0.0", shadow=("1.1.0",))
    registry = load()

    prediction = registry.predict("news2", NEWS2_ROW)

    assert prediction.version == "1.0.0"
    assert prediction.outputs == {"news2_score": 5.0, "any_parameter_3": 0.0}
    assert [shadow.version for shadow in prediction.shadow] == ["1.1.0"]
    assert prediction.shadow[0].outputs == prediction.outputs
    assert prediction.shadow[0].inputs == prediction.inputs
    assert prediction.shadow_errors == {}
    status = registry.status()["news2"]
    assert [(entry.version, entry.ready) for entry in status.shadow] == [("1.1.0", True)]


def test_shadows_can_be_skipped_and_are_batched_too(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    add_version("news2", "1.1.0")
    deploy("news2", "1.0.0", shadow=("1.1.0",))
    registry = load()

    assert registry.predict("news2", NEWS2_ROW, with_shadow=False).shadow == ()
    batch = registry.predict_batch("news2", np.stack([NEWS2_ROW, NEWS2_ROW]))
    assert batch.shadow[0].version == "1.1.0"
    np.testing.assert_array_equal(batch.shadow[0].outputs["news2_score"], [5.0, 5.0])


def test_a_broken_shadow_never_touches_the_active_result(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    broken = add_version("news2", "1.1.0")
    (broken / "model.onnx").write_bytes(b"not onnx")
    deploy("news2", "1.0.0", shadow=("1.1.0",))
    registry = load()

    prediction = registry.predict("news2", NEWS2_ROW)

    assert registry.status()["news2"].ready
    assert prediction.outputs["news2_score"] == 5.0
    assert prediction.shadow == ()
    assert "sha256 mismatch" in prediction.shadow_errors["1.1.0"]


def test_a_shadow_with_another_input_contract_is_not_run(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    def rename_first_input(card: dict) -> None:
        card["inputs"][0]["name"] = "resp_rate"
        for test in card["self_test"]:
            test["inputs"]["resp_rate"] = test["inputs"].pop("respiratory_rate")

    add_version("news2", "2.0.0", edit=rename_first_input)
    deploy("news2", "1.0.0", shadow=("2.0.0",))

    shadow_status = load().status()["news2"].shadow[0]

    assert not shadow_status.ready
    assert "input contract differs" in (shadow_status.reason or "")


def test_reload_with_nothing_changed_reuses_every_session(load: Callable[..., ModelRegistry]) -> None:
    registry = load()
    before = registry.predict("prevent", np.array([50, 1, 200, 45, 160, 1, 0, 1, 0, 90, 35], np.float32))

    report = registry.reload()

    assert set(report.unchanged) == {"ascvd-pce", "prevent", "news2", "diabetes-progression"}
    assert report.ok
    assert report.loaded == ()
    after = registry.predict("prevent", np.array([50, 1, 200, 45, 160, 1, 0, 1, 0, 90, 35], np.float32))
    assert after.outputs == before.outputs


def test_reload_promotes_a_new_good_version(
    add_version: Callable[..., Path], deploy: Callable[..., None], load: Callable[..., ModelRegistry]
) -> None:
    registry = load()
    add_version("news2", "1.1.0")
    deploy("news2", "1.1.0", shadow=("1.0.0",))

    report = registry.reload()

    assert report.loaded == ("news2",)
    prediction = registry.predict("news2", NEWS2_ROW)
    assert prediction.version == "1.1.0"
    assert [shadow.version for shadow in prediction.shadow] == ["1.0.0"]


def test_reload_keeps_the_previous_model_when_the_new_one_is_bad(
    repository: Path,
    add_version: Callable[..., Path],
    deploy: Callable[..., None],
    load: Callable[..., ModelRegistry],
) -> None:
    registry = load()
    bad = add_version("ascvd-pce", "1.1.0")
    (bad / "model.onnx").write_bytes((bad / "model.onnx").read_bytes()[:-10])
    deploy("ascvd-pce", "1.1.0")

    report = registry.reload()

    assert not report.ok
    assert "sha256 mismatch" in report.kept_previous["ascvd-pce"]
    status = registry.status()["ascvd-pce"]
    assert status.ready
    assert status.active_version == "1.0.0"
    assert (
        registry.predict("ascvd-pce", np.array([55, 1, 0, 213, 50, 120, 0, 0, 0], np.float32)).version
        == "1.0.0"
    )


def test_reload_keeps_the_previous_model_when_its_file_is_overwritten_with_garbage(
    repository: Path, load: Callable[..., ModelRegistry]
) -> None:
    registry = load()
    (repository / "diabetes-progression" / "1.0.0" / "model.onnx").write_bytes(b"\x00" * 64)

    report = registry.reload()

    assert "diabetes-progression" in report.kept_previous
    assert registry.status()["diabetes-progression"].ready


def test_reload_picks_up_added_and_removed_models(
    repository: Path, load: Callable[..., ModelRegistry]
) -> None:
    registry = load()
    (repository / "news2").rename(repository / "news2-renamed")

    report = registry.reload()

    assert report.removed == ("news2",)
    assert "news2" not in registry.status()
    assert "news2-renamed" in report.not_ready  # the card says news2 but the directory does not


def test_overrides_choose_versions_without_touching_files(
    add_version: Callable[..., Path], load: Callable[..., ModelRegistry]
) -> None:
    add_version("news2", "1.1.0")
    registry = load(overrides={"news2": DeploymentOverride(active="1.1.0", shadow=("1.0.0",))})

    prediction = registry.predict("news2", NEWS2_ROW)

    assert prediction.version == "1.1.0"
    assert prediction.shadow[0].version == "1.0.0"


def test_overrides_are_read_from_the_environment_by_default(
    add_version: Callable[..., Path], repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_version("news2", "1.1.0")
    monkeypatch.setenv("CDS_MODEL_DEPLOYMENTS", json.dumps({"news2": {"active": "1.1.0"}}))
    monkeypatch.setenv("CDS_MODEL_PROVIDERS", "CPUExecutionProvider")

    registry = ModelRegistry.load(repository)

    assert registry.status()["news2"].active_version == "1.1.0"
    assert registry.status()["news2"].provider == "CPUExecutionProvider"


def test_a_malformed_environment_override_fails_at_start_up(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDS_MODEL_DEPLOYMENTS", '{"news2": {"activ": "1.1.0"}}')
    with pytest.raises(ValueError, match="may only set active, shadow and providers"):
        ModelRegistry.load(repository, providers=["CPUExecutionProvider"])
