"""The feature core stays pure: no web, HTTP, database or model-runtime imports; I/O only in loader."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cds_server.features
from cds_server import features as package

PACKAGE_DIR = Path(package.__file__).parent
MODULES = sorted(PACKAGE_DIR.glob("*.py"))
FORBIDDEN = {"flask", "httpx", "requests", "sqlalchemy", "onnxruntime", "celery", "redis", "fhir", "pydantic"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
            if node.module.startswith("cds_server.") and not node.module.startswith("cds_server.features"):
                found.add(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_forbidden_imports(path: Path) -> None:
    imports = _imports(path)
    assert not imports & FORBIDDEN, path.name
    assert not {name for name in imports if name.startswith("cds_server.")}, "only cds_server.features.*"


@pytest.mark.parametrize("path", [p for p in MODULES if p.name != "loader.py"], ids=lambda p: p.name)
def test_only_the_loader_touches_files(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            assert name not in {"open", "read_text", "read_bytes", "write_text", "glob", "iterdir"}, path.name


def test_public_api() -> None:
    assert set(cds_server.features.__all__) == {
        "CompiledMapping",
        "Contribution",
        "Exclusion",
        "ExclusionReason",
        "FeatureProvenance",
        "FeatureStatus",
        "FeatureVector",
        "MappingRegistry",
        "MappingSpecError",
        "UnknownMapping",
        "load_mappings",
    }
