from __future__ import annotations

from pathlib import Path

import pytest

from cds_server.features import MappingRegistry
from cds_server.features import load_mappings
from cds_server.hooks.service import CdsService
from cds_server.inference import ModelRegistry
from cds_server.services.loader import load_service_declarations
from tests.support.paths import REPO_ROOT

BASE_URL = "https://cds.example.org"


@pytest.fixture(scope="session")
def mappings() -> MappingRegistry:
    return load_mappings(REPO_ROOT / "fhir_mappings")


@pytest.fixture(scope="session")
def models() -> ModelRegistry:
    return ModelRegistry.load(REPO_ROOT / "model_artifacts")


@pytest.fixture(scope="session")
def services(mappings: MappingRegistry, models: ModelRegistry) -> dict[tuple[str, str], CdsService]:
    loaded = load_service_declarations(
        REPO_ROOT / "cds_services", mappings=mappings, models=models, public_base_url=BASE_URL
    )
    return {(service.id, service.hook): service for service in loaded}


@pytest.fixture
def services_dir(tmp_path: Path) -> Path:
    return tmp_path
