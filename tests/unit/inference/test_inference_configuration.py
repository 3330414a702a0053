"""Deployment files, environment overrides, provider chains and session options."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_server.inference import DeploymentOverride
from cds_server.inference import overrides_from_env
from cds_server.inference import providers_from_env
from cds_server.inference.deployment import Deployment
from cds_server.inference.deployment import read_deployment
from cds_server.inference.deployment import with_override
from cds_server.inference.errors import ArtifactError
from cds_server.inference.session import resolve_providers
from cds_server.inference.session import session_options


def test_deployment_file_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text("active: '1.2.0'\nshadow: ['1.3.0', '2.0.0-rc1']\nproviders: [CPUExecutionProvider]\n")
    assert read_deployment(path) == Deployment("1.2.0", ("1.3.0", "2.0.0-rc1"), ("CPUExecutionProvider",))


def test_an_unknown_key_is_refused_rather_than_ignored(tmp_path: Path) -> None:
    path = tmp_path / "deployment.yaml"
    path.write_text("active: '1.0.0'\nshadows: ['1.1.0']\n")
    with pytest.raises(ArtifactError, match="unknown keys"):
        read_deployment(path)


def test_override_replaces_only_the_keys_it_gives() -> None:
    base = Deployment("1.0.0", ("1.1.0",), ("CPUExecutionProvider",))
    assert with_override(base, DeploymentOverride(active="1.2.0")) == Deployment(
        "1.2.0", ("1.1.0",), ("CPUExecutionProvider",)
    )
    assert with_override(base, DeploymentOverride(shadow=())) == Deployment(
        "1.0.0", (), ("CPUExecutionProvider",)
    )
    assert with_override(base, None) is base


def test_promoting_a_shadow_by_override_removes_it_from_the_shadows() -> None:
    base = Deployment("1.0.0", ("1.1.0",))
    assert with_override(base, DeploymentOverride(active="1.1.0")) == Deployment("1.1.0", ())


def test_overrides_from_environment() -> None:
    environ = {"CDS_MODEL_DEPLOYMENTS": '{"prevent": {"active": "1.1.0", "shadow": ["1.0.0"]}}'}
    assert overrides_from_env(environ) == {"prevent": DeploymentOverride("1.1.0", ("1.0.0",), None)}
    assert overrides_from_env({}) == {}
    assert overrides_from_env({"CDS_MODEL_DEPLOYMENTS": "  "}) == {}


@pytest.mark.parametrize(
    "value",
    ["not json", '["prevent"]', '{"prevent": {"active": 1.1}}', '{"prevent": {"shadow": "1.0.0"}}'],
)
def test_malformed_environment_overrides_are_errors(value: str) -> None:
    with pytest.raises(ValueError, match=r"CDS_MODEL_DEPLOYMENTS|version string|list of strings"):
        overrides_from_env({"CDS_MODEL_DEPLOYMENTS": value})


def test_provider_chain_from_environment() -> None:
    assert providers_from_env({}) is None
    assert providers_from_env({"CDS_MODEL_PROVIDERS": "CUDAExecutionProvider, CPUExecutionProvider"}) == (
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    )
    assert providers_from_env({"CDS_MODEL_PROVIDERS": '["TensorrtExecutionProvider"]'}) == (
        "TensorrtExecutionProvider",
    )


def test_provider_chain_keeps_order_drops_what_the_build_lacks_and_ends_with_cpu() -> None:
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(["TensorrtExecutionProvider", "CUDAExecutionProvider"], available) == (
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    )
    assert resolve_providers(["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]) == (
        "CPUExecutionProvider",
    )
    assert resolve_providers(["CPUExecutionProvider", "CUDAExecutionProvider"], available) == (
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    )


def test_unsupported_providers_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unsupported execution providers"):
        resolve_providers(["ROCMExecutionProvider"], ["CPUExecutionProvider"])


def test_session_options_follow_the_tuning_note() -> None:
    options = session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert str(options.execution_mode).endswith("ORT_SEQUENTIAL")
    assert str(options.graph_optimization_level).endswith("ORT_ENABLE_ALL")
