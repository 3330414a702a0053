"""Population scoring against a real FHIR server with SMART Backend Services: paged searches and Bulk
Data $export, chunks fanned out over a worker, RiskAssessments written back and read back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fhir.resources.R4B.riskassessment import RiskAssessment
from flask import Flask
from flask.testing import FlaskClient

from tests.integration.jobs.conftest import GROUP_ID
from tests.integration.jobs.conftest import SmartBackend
from tests.support.backends import BACKEND_ID
from tests.support.backends import read
from tests.support.charts import SYNTHEA_NOW
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run_job(client: FlaskClient, params: dict[str, Any], timeout: float = 90) -> dict[str, Any]:
    response = client.post("/jobs", json={"kind": "population-scoring", "params": params})
    assert response.status_code == 202, response.json
    url = f"/jobs/{response.json['id']}"
    done = wait_for(
        lambda: (body := client.get(url).json)["status"] not in ("QUEUED", "RUNNING") and body,
        timeout=timeout,
        what="the population job",
        every=0.2,
    )
    assert isinstance(done, dict)
    return done


def rows(client: FlaskClient, job: dict[str, Any]) -> list[dict[str, Any]]:
    body = client.get(f"/jobs/{job['id']}/results").json
    assert isinstance(body, dict)
    return list(body["rows"])


def params(cohort: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"server": BACKEND_ID, "model": "ascvd-pce", "cohort": cohort, "asOf": SYNTHEA_NOW, **more}


def test_listed_patients_scored_by_paged_search_and_written_back(
    backend_app: Flask, start_worker: Callable[..., WorkerProcess], smart_backend: SmartBackend
) -> None:
    start_worker(concurrency=2)
    client = backend_app.test_client()
    ids = smart_backend.patient_ids
    job = run_job(client, params({"patients": [*ids, "no-such-patient"]}, writeBack=True, source="search"))
    assert job["status"] == "SUCCEEDED", job["error"]
    assert job["summary"]["source"] == "search"
    assert job["progress"] == {"done": len(ids) + 1, "total": len(ids) + 1}
    assert job["units"]["total"] == 1 + 3  # the plan and three chunks of three patients
    results = rows(client, job)
    assert [row["patient"] for row in results] == [f"Patient/{pid}" for pid in [*ids, "no-such-patient"]]
    assert results[-1] == {
        "seq": len(ids),
        "status": "not-scored",
        "patient": "Patient/no-such-patient",
        "asOf": "2020-06-01T00:00:00+00:00",
        "outputs": {},
        "reason": "patient not found",
    }
    scored = [row for row in results if row["status"] == "scored"]
    assert len(scored) >= 3
    for row in results[:-1]:
        if row["status"] == "not-scored":
            assert row["reason"]  # why, per input (e.g. an age outside 40-79)
    for row in scored:
        assert 0.0 < row["outputs"]["risk_10y"] < 1.0
        written = read(smart_backend.server, row["riskAssessment"])
        assert written.status_code == 200
        assessment = RiskAssessment.model_validate(written.json())
        assert assessment.subject.reference == row["patient"]
        assert float(assessment.prediction[0].probabilityDecimal) == pytest.approx(
            row["outputs"]["risk_10y"], abs=1e-6
        )
        assert assessment.method.coding[0].code == "ascvd-pce"


def test_a_group_is_exported_with_bulk_data_and_scores_the_same(
    backend_app: Flask, start_worker: Callable[..., WorkerProcess], smart_backend: SmartBackend
) -> None:
    start_worker(concurrency=2)
    client = backend_app.test_client()
    bulk = run_job(client, params({"group": f"Group/{GROUP_ID}"}))
    assert bulk["status"] == "SUCCEEDED", bulk["error"]
    assert bulk["summary"]["source"] == "bulk"
    searched = run_job(client, params({"group": GROUP_ID}, source="search"))
    assert searched["summary"]["source"] == "search"

    def by_patient(job: dict[str, Any]) -> dict[str, Any]:
        return {row["patient"]: (row["status"], row["outputs"].get("risk_10y")) for row in rows(client, job)}

    exported, read_page_by_page = by_patient(bulk), by_patient(searched)
    assert set(exported) == set(read_page_by_page) == {f"Patient/{pid}" for pid in smart_backend.patient_ids}
    for patient, (status, risk) in exported.items():
        assert status == read_page_by_page[patient][0]
        # the same inputs; only the batch they ran in differs (last-bit float differences)
        assert risk == (pytest.approx(read_page_by_page[patient][1], rel=1e-9) if risk is not None else None)


def test_a_patient_search_cohort_and_csv_results(
    backend_app: Flask, start_worker: Callable[..., WorkerProcess], smart_backend: SmartBackend
) -> None:
    start_worker()
    client = backend_app.test_client()
    job = run_job(client, params({"search": {"gender": "male"}}))
    assert job["status"] == "SUCCEEDED", job["error"]
    patients = {row["patient"] for row in rows(client, job)}
    assert patients
    assert patients < {f"Patient/{pid}" for pid in smart_backend.patient_ids}
    csv_text = client.get(f"/jobs/{job['id']}/results?format=csv").get_data(as_text=True)
    assert csv_text.splitlines()[0] == "seq,patient,asOf,status,risk_10y,reason,riskAssessment"
    page = client.get(f"/jobs/{job['id']}", headers={"Accept": "text/html"})
    assert page.content_type.startswith("text/html")
    assert all(patient in page.get_data(as_text=True) for patient in patients)


def test_an_unknown_group_fails_the_job(
    backend_app: Flask, start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    job = run_job(backend_app.test_client(), params({"group": "no-such-group"}, source="search"))
    assert (job["status"], job["error"]["code"]) == ("FAILED", "group-not-found")


def test_write_back_needs_a_server_that_accepts_it(
    make_app: Any, backend_env: dict[str, str], smart_backend: SmartBackend, tmp_path: Any
) -> None:
    from tests.support.backends import write_backends_file

    path = write_backends_file(
        tmp_path / "read-only.yaml", smart_backend.server, smart_backend.key, writeBack=False
    )
    settings = {name.removeprefix("CDS_").lower(): value for name, value in backend_env.items()}
    app = make_app(**{**settings, "fhir_backends_file": str(path)})
    response = app.test_client().post(
        "/jobs", json={"kind": "population-scoring", "params": params({"patients": ["a"]}, writeBack=True)}
    )
    assert response.status_code == 400
    assert "writeBack" in response.get_data(as_text=True)
