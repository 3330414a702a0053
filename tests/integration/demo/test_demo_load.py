"""``cds-server demo load`` against a real FHIR server: ids kept, dates moved to now."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from cds_server.cli import main as cli
from cds_server.demo.patients import demo_patients
from tests.support.fhir_server import FhirTestServer
from tests.support.fhir_server import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def empty_fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirTestServer]:
    server = FhirTestServer(tmp_path_factory.mktemp("demo-fhir"), auth="bearer", tokens=("demo-token",))
    yield server
    server.stop()


def test_demo_load_keeps_ids_and_brings_charts_to_today(
    empty_fhir_server: FhirTestServer, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "load", "--fhir", empty_fhir_server.base_url, "--token", "demo-token"]
    )
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == len(demo_patients())
    headers = empty_fhir_server.headers
    emery = next(p for p in demo_patients() if p.name == "Emery_Purdy")
    patient_id = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"
    assert emery.path.name.startswith("Emery_Purdy")
    patient = httpx.get(f"{empty_fhir_server.base_url}/Patient/{patient_id}", headers=headers).json()
    assert patient["id"] == patient_id
    observations = httpx.get(
        f"{empty_fhir_server.base_url}/Observation",
        params={"patient": patient_id, "_sort": "-date", "_count": "1"},
        headers=headers,
    ).json()
    latest = datetime.fromisoformat(observations["entry"][0]["resource"]["effectiveDateTime"])
    assert abs((datetime.now(UTC) - latest).days) <= 1


def test_demo_load_refuses_a_server_that_rejects_it(empty_fhir_server: FhirTestServer) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "load", "--fhir", empty_fhir_server.base_url, "--token", "wrong"]
    )
    assert result.exit_code == 1
    assert "the FHIR server answered 401" in result.output


def test_demo_load_waits_for_a_fhir_server_that_is_up(empty_fhir_server: FhirTestServer) -> None:
    args = ["demo", "load", "--fhir", empty_fhir_server.base_url, "--token", "demo-token", "--wait", "30"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output


def test_demo_load_gives_up_waiting_for_a_fhir_server_that_never_answers() -> None:
    closed = f"http://127.0.0.1:{free_port()}/fhir"
    result = CliRunner().invoke(cli, ["demo", "load", "--fhir", closed, "--wait", "1"])
    assert result.exit_code == 1
    assert "did not answer GET /metadata within 1 s" in result.output
