"""Fixtures for the model runtime tests.

Every test that damages or changes artifacts works on a copy of ``model_artifacts/`` in a
temporary directory; the committed files are only ever read.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from cds_server.inference import ModelRegistry

REPOSITORY = Path(__file__).resolve().parents[3]
COMMITTED_ARTIFACTS = REPOSITORY / "model_artifacts"
CPU_ONLY = ("CPUExecutionProvider",)


@pytest.fixture(scope="session")
def committed_artifacts() -> Path:
    return COMMITTED_ARTIFACTS


@pytest.fixture(scope="session")
def registry() -> ModelRegistry:
    """The committed repository, loaded once, CPU only, environment overrides ignored."""
    return ModelRegistry.load(COMMITTED_ARTIFACTS, providers=CPU_ONLY, overrides={})


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A private copy of the committed model repository."""
    copy = tmp_path / "model_artifacts"
    shutil.copytree(COMMITTED_ARTIFACTS, copy)
    return copy


@pytest.fixture
def load(repository: Path) -> Callable[..., ModelRegistry]:
    def _load(**kwargs: object) -> ModelRegistry:
        kwargs.setdefault("providers", CPU_ONLY)
        kwargs.setdefault("overrides", {})
        return ModelRegistry.load(repository, **kwargs)  # type: ignore[arg-type]

    return _load


@pytest.fixture
def add_version(repository: Path) -> Callable[..., Path]:
    """Copy an existing version to ``new_version``, optionally editing its card."""

    def _add(
        model_id: str,
        new_version: str,
        *,
        from_version: str = "1.0.0",
        edit: Callable[[dict], None] | None = None,
    ) -> Path:
        source = repository / model_id / from_version
        target = repository / model_id / new_version
        shutil.copytree(source, target)
        card_path = target / "model-card.yaml"
        card = yaml.safe_load(card_path.read_text(encoding="utf-8"))
        card["version"] = new_version
        if edit is not None:
            edit(card)
        card_path.write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return target

    return _add


@pytest.fixture
def deploy(repository: Path) -> Callable[..., None]:
    """Rewrite a model's deployment.yaml."""

    def _deploy(
        model_id: str, active: str, shadow: tuple[str, ...] = (), providers: tuple[str, ...] | None = None
    ) -> None:
        document: dict[str, object] = {"active": active, "shadow": list(shadow)}
        if providers is not None:
            document["providers"] = list(providers)
        (repository / model_id / "deployment.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")

    return _deploy
