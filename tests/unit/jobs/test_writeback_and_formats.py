"""RiskAssessments (valid FHIR R4, stable ids), result streams, the trend plot, result-page links."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC
from datetime import datetime

import pytest

from cds_server.inference import ModelRegistry
from cds_server.jobs.links import LinkSigner
from cds_server.jobs.records import JobView
from cds_server.jobs.records import ResultRow
from cds_server.jobs.serialize import stream_results
from cds_server.jobs.states import JobStatus
from cds_server.jobs.writeback import WriteBackError
from cds_server.jobs.writeback import check_response
from cds_server.jobs.writeback import risk_assessment
from cds_server.jobs.writeback import transaction
from cds_server.web.plot import trend_svg
from tests.support.paths import REPO_ROOT

WHEN = datetime(2020, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def models() -> ModelRegistry:
    return ModelRegistry.load(REPO_ROOT / "model_artifacts", providers=["CPUExecutionProvider"], overrides={})


def test_risk_assessments_are_valid_and_idempotent(models: ModelRegistry) -> None:
    card = models.card("ascvd-pce")
    one = risk_assessment(job_id="j", patient_id="p1", card=card, output="risk_10y", value=0.12, as_of=WHEN)
    again = risk_assessment(job_id="j", patient_id="p1", card=card, output="risk_10y", value=0.12, as_of=WHEN)
    assert one["id"] == again["id"]
    assert one["prediction"][0]["probabilityDecimal"] == 0.12
    news2 = risk_assessment(
        job_id="j", patient_id="p1", card=models.card("news2"), output="news2_score", value=5, as_of=WHEN
    )
    assert "probabilityDecimal" not in news2["prediction"][0]
    assert news2["prediction"][0]["qualitativeRisk"]["text"] == "news2_score 5 score"
    bundle = transaction([one, news2])
    assert [entry["request"] for entry in bundle["entry"]] == [
        {"method": "PUT", "url": f"RiskAssessment/{one['id']}"},
        {"method": "PUT", "url": f"RiskAssessment/{news2['id']}"},
    ]


def test_a_transaction_response_with_a_failed_entry_is_an_error() -> None:
    good = {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [{"response": {"status": "201 Created"}}],
    }
    check_response(good, 1)
    with pytest.raises(WriteBackError):
        check_response(good, 2)
    bad = {**good, "entry": [{"response": {"status": "400 Bad Request"}}]}
    with pytest.raises(WriteBackError):
        check_response(bad, 1)


def view() -> JobView:
    return JobView(
        id="j",
        kind="k",
        status=JobStatus.SUCCEEDED,
        created_at=WHEN,
        updated_at=WHEN,
        started_at=WHEN,
        finished_at=WHEN,
        attempts=1,
        max_attempts=3,
        progress_done=2,
        progress_total=2,
        error_code=None,
        error_message=None,
        service_id=None,
        patient_ref=None,
        params={},
        result=None,
    )


ROWS = [
    ResultRow(0, "scored", "Patient/a", WHEN, {"risk_10y": 0.25}),
    ResultRow(1, "not-scored", "Patient/b", WHEN, None, "age_years is outside 40-79"),
]


def test_results_stream_as_json_csv_and_ndjson() -> None:
    as_json = json.loads(b"".join(stream_results("json", view(), iter(ROWS), ["risk_10y"])))
    assert as_json["complete"] is True
    assert [row["status"] for row in as_json["rows"]] == ["scored", "not-scored"]
    as_csv = list(
        csv.reader(io.StringIO(b"".join(stream_results("csv", view(), iter(ROWS), ["risk_10y"])).decode()))
    )
    assert as_csv[0] == ["seq", "patient", "asOf", "status", "risk_10y", "reason", "riskAssessment"]
    assert as_csv[1][:5] == ["0", "Patient/a", "2020-06-01T00:00:00Z", "scored", "0.25"]
    assert as_csv[2][3:6] == ["not-scored", "", "age_years is outside 40-79"]
    lines = b"".join(stream_results("ndjson", view(), iter(ROWS), [])).decode().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [0, 1]


def test_the_trend_plot_is_an_svg_with_a_point_per_scored_visit() -> None:
    points = [(datetime(2013 + i, 1, 1, tzinfo=UTC), v) for i, v in enumerate([0.05, None, 0.08, 0.12])]
    svg = trend_svg(points, title="Risk <trend>", percent=True, thresholds=[(0.075, "intermediate")])
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count("<circle") == 3
    assert "Risk &lt;trend&gt;" in svg  # text is escaped
    assert "intermediate" in svg
    assert "No time point" in trend_svg([(WHEN, None)], title="t", percent=True)


def test_result_page_links_expire_and_cannot_be_forged() -> None:
    signer = LinkSigner(lambda: b"k" * 32, base_url="https://cds.example.org", ttl_s=60)
    url = signer.url("job-1", WHEN)
    expires, signature = url.split("?exp=")[1].split("&sig=")
    assert url.startswith("https://cds.example.org/jobs/job-1/view?")
    assert signer.verify("job-1", expires, signature, WHEN)
    assert not signer.verify("job-2", expires, signature, WHEN)
    assert not signer.verify("job-1", str(int(expires) + 1), signature, WHEN)
    assert not signer.verify("job-1", expires, signature, datetime(2020, 6, 1, 0, 2, tzinfo=UTC))
    assert not signer.verify("job-1", "x", signature, WHEN)
