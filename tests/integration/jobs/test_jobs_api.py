"""``/jobs`` over HTTP with a real worker on the shared Redis and PostgreSQL: submit, poll, results in
three formats, cancel, ownership, and the signed result page."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.support.assertions import assert_operation_outcome
from tests.support.clients import EHR_B
from tests.support.clients import as_client
from tests.support.workers import WorkerProcess
from tests.support.workers import wait_for

pytestmark = pytest.mark.integration

SHARED_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def shared_redis_env(worker_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The shared Redis of CI and development machines, with a queue of this test's own."""
    worker_env["CDS_BROKER_URL"] = SHARED_REDIS
    yield worker_env
    client = redis.Redis.from_url(SHARED_REDIS)
    for key in client.scan_iter(f"*{worker_env['CDS_JOB_QUEUE']}*"):
        client.delete(key)


@pytest.fixture
def api(
    shared_redis_env: dict[str, str], job_app: Flask, start_worker: Callable[..., WorkerProcess]
) -> FlaskClient:
    start_worker()
    return job_app.test_client()


def poll(
    client: FlaskClient, url: str, *, until: Callable[[dict[str, object]], bool], timeout: float = 30
) -> dict[str, object]:
    def done() -> dict[str, object] | None:
        body = client.get(url).json
        assert isinstance(body, dict)
        return body if until(body) else None

    result = wait_for(done, timeout=timeout, what=f"{url} to change", every=0.1)
    assert isinstance(result, dict)
    return result


def test_a_job_over_http_from_submission_to_results(api: FlaskClient) -> None:
    response = api.post("/jobs", json={"kind": "test-sleep", "params": {"seconds": 0.3}})
    assert response.status_code == 202, response.json
    job = response.json
    assert response.headers["Location"] == job["links"]["self"]
    assert job["status"] == "QUEUED"
    assert (job["attempts"], job["maxAttempts"]) == (0, 3)
    url = f"/jobs/{job['id']}"
    done = poll(api, url, until=lambda body: body["status"] == "SUCCEEDED")
    assert done["attempts"] == 1
    assert done["progress"] == {"done": 1, "total": 1}
    assert done["error"] is None
    assert done["finishedAt"] is not None

    results = api.get(f"{url}/results")
    assert results.content_type.startswith("application/json")
    assert results.json["complete"] is True
    assert results.json["rows"] == [{"seq": 0, "status": "scored", "outputs": {"slept": 0.3}}]

    as_csv = api.get(f"{url}/results", headers={"Accept": "text/csv"})
    assert as_csv.content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(row["seq"], row["status"]) for row in rows] == [("0", "scored")]

    as_ndjson = api.get(f"{url}/results?format=ndjson")
    assert as_ndjson.content_type.startswith("application/x-ndjson")
    assert [json.loads(line)["status"] for line in as_ndjson.text.splitlines()] == ["scored"]

    # a finished job cannot be cancelled
    assert_operation_outcome(api.delete(url), 409, "conflict")


def test_cancelling_a_running_job_stops_it(api: FlaskClient) -> None:
    job = api.post("/jobs", json={"kind": "test-sleep", "params": {"seconds": 20}}).json
    url = f"/jobs/{job['id']}"
    poll(api, url, until=lambda body: body["status"] == "RUNNING")
    cancelled = api.delete(url)
    assert cancelled.status_code == 200
    assert cancelled.json["status"] == "CANCELLED"
    assert api.delete(url).json["status"] == "CANCELLED"
    # the worker lets go at its next heartbeat; the job stays cancelled and has no results
    poll(api, url, until=lambda body: body["units"]["running"] == 0, timeout=10)
    assert api.get(url).json["status"] == "CANCELLED"
    assert api.get(f"{url}/results").json["rows"] == []


def test_another_clients_job_is_not_found(api: FlaskClient) -> None:
    job = api.post("/jobs", json={"kind": "test-sleep", "params": {}}).json
    url = f"/jobs/{job['id']}"
    unknown = "/jobs/00000000-0000-4000-8000-000000000000"
    for method, path in (("GET", url), ("DELETE", url), ("GET", f"{url}/results")):
        theirs = api.open(path, method=method, headers=as_client(EHR_B))
        nobody = api.open(unknown + path.removeprefix(url), method=method)
        assert_operation_outcome(theirs, 404, "unknown-job")
        assert_operation_outcome(nobody, 404, "unknown-job")
        assert theirs.json["issue"] == nobody.json["issue"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "no-such-kind"}, "invalid-job-request"),
        ({"kind": "risk-trajectory", "params": {}}, "invalid-job-request"),  # started by its service only
        ({"kind": "test-sleep", "params": {"seconds": "long"}}, "invalid-job-request"),
        ({"kind": "test-sleep", "params": {"seconds": 1}, "extra": 1}, "invalid-job-request"),
        (
            {
                "kind": "population-scoring",
                "params": {"server": "nowhere", "model": "ascvd-pce", "cohort": {"patients": ["a"]}},
            },
            "invalid-job-request",
        ),
        ([], "invalid-job-request"),
    ],
)
def test_bad_job_requests_are_400_with_a_stable_code(job_app: Flask, body: object, code: str) -> None:
    response = job_app.test_client().post("/jobs", json=body)
    assert_operation_outcome(response, 400, code)
    assert "long" not in response.get_data(as_text=True)  # the issue names the field, never the value


def test_result_formats_that_do_not_exist_are_406(job_app: Flask) -> None:
    client = job_app.test_client()
    job = client.post("/jobs", json={"kind": "test-sleep", "params": {}}).json
    url = f"/jobs/{job['id']}/results"
    assert client.get(url, headers={"Accept": "application/xml"}).status_code == 406
    assert client.get(f"{url}?format=xlsx").status_code == 406
    assert client.put("/jobs").status_code == 405


def test_the_signed_result_page_needs_its_signature(job_app: Flask) -> None:
    from cds_server.state import get_state

    client = job_app.test_client()
    job = client.post("/jobs", json={"kind": "test-sleep", "params": {"seconds": 0}}).json
    state = get_state(job_app)
    link = state.jobs.links.url(job["id"], state.jobs.store.clock())
    path = link.removeprefix(state.settings.public_base_url)
    page = client.get(path)
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    assert "QUEUED" in page.get_data(as_text=True)
    tampered = (
        re.sub(r"sig=[0-9a-f]", "sig=0", path) if "sig=0" not in path else path.replace("sig=0", "sig=1")
    )
    for bad in (tampered, path.split("&sig=")[0], re.sub(r"exp=\d+", "exp=1", path)):
        assert client.get(bad).status_code == 404
    other = state.jobs.links.url("00000000-0000-4000-8000-000000000000", state.jobs.store.clock())
    assert client.get(other.removeprefix(state.settings.public_base_url)).status_code == 404
