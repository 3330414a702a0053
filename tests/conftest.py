"""Fixtures shared by the whole suite: the real app, its test client, a real FHIR server."""

from __future__ import annotations

import os
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_server import create_app
from cds_server.state import get_state
from tests.support.fhir_server import FhirTestServer
from tests.support.synthea import bundle_files

TEST_SERVICES = "tests.support.services"

AppFactory = Callable[..., Flask]


@pytest.fixture(autouse=True)
def _no_cds_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own CDS_* variables must not change what the tests see."""
    for name in list(os.environ):
        if name.startswith("CDS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_app() -> Iterator[AppFactory]:
    """Build the real app with test services registered; keyword arguments are settings."""
    built: list[Flask] = []

    def build(**settings: Any) -> Flask:
        config: dict[str, Any] = {"service_modules": [TEST_SERVICES]}
        config.update(settings)
        app = create_app(config)
        app.testing = True
        built.append(app)
        return app

    yield build
    for app in built:
        get_state(app).close()


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """sekmet-fhir demanding a bearer token, loaded with every Synthea patient of shared/."""
    server = FhirTestServer(tmp_path_factory.mktemp("fhir"), auth="bearer")
    try:
        server.load(bundle_files())
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def open_fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    """An open sekmet-fhir (no token needed), loaded with two patients."""
    server = FhirTestServer(tmp_path_factory.mktemp("open-fhir"), auth="none")
    try:
        server.load([Path(p) for p in bundle_files() if p.name.startswith(("Dirk_Kuhlman", "Liz_Conn"))])
        yield server
    finally:
        server.stop()
