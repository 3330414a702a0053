"""``GET /dashboard`` and ``/dashboard.json``: behind the admin token, built from real calls and feedback.

Drift needs 30 decisions: the tests call the ASCVD service 30 times for one patient, so every input
sits in one decile of the model card's reference (a major shift, as it should be for one person).
"""

from __future__ import annotations

import base64
import shutil
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient

from tests.conftest import AppFactory
from tests.support.paths import REPO_ROOT

TOKEN = "dashboard-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"


def call(client: FlaskClient, service: str, hook: str = "patient-view", **args: str) -> dict[str, Any]:
    body = client.get(
        f"/demo/patients/{EMERY}/request", query_string={"service": service, "hook": hook, **args}
    ).json
    response = client.post(f"/cds-services/{service}", json=body)
    assert response.status_code == 200, response.json
    result: dict[str, Any] = response.json
    return result


@pytest.fixture
def admin(make_app: AppFactory) -> FlaskClient:
    return make_app(admin_token=TOKEN).test_client()


def test_the_dashboard_does_not_exist_without_an_admin_token(client: FlaskClient) -> None:
    assert client.get("/dashboard").status_code == 404
    assert client.get("/dashboard.json", headers=ADMIN).status_code == 404


def test_a_browser_is_asked_for_the_admin_token_as_a_password(admin: FlaskClient) -> None:
    refused = admin.get("/dashboard")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith('Basic realm="cds-server admin"')
    wrong = base64.b64encode(b"operator:not-the-token").decode()
    assert admin.get("/dashboard", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
    assert (
        refused.get_data() == admin.get("/dashboard", headers={"Authorization": f"Basic {wrong}"}).get_data()
    )
    right = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    page = admin.get("/dashboard", headers={"Authorization": f"Basic {right}"})
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert admin.get("/dashboard.json", headers=ADMIN).status_code == 200


def test_calls_feedback_and_drift_over_the_window(admin: FlaskClient) -> None:
    for _ in range(30):
        call(admin, "ascvd-risk")
    (card,) = call(admin, "statin-therapy", "order-select", drug="314076")["cards"]
    now = datetime.now(UTC).isoformat()
    feedback = {"feedback": [{"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": now,
                              "overrideReason": {"reason": card["overrideReasons"][1]}}]}  # fmt: skip
    assert admin.post("/cds-services/statin-therapy/feedback", json=feedback).status_code == 200

    data = admin.get("/dashboard.json", query_string={"hours": 1}, headers=ADMIN).json
    groups = {(g["serviceId"], g["hook"]): g for g in data["calls"]["groups"]}
    ascvd = groups[("ascvd-risk", "patient-view")]
    assert (ascvd["calls"], ascvd["ok"], ascvd["model"]) == (30, 30, "ascvd-pce 1.0.0")
    assert 0 < ascvd["latencyMs"]["p50"] <= ascvd["latencyMs"]["p95"] <= ascvd["latencyMs"]["p99"]
    assert sum(data["calls"]["series"]["counts"]["ascvd-risk"]) == 30

    (rates,) = [g for g in data["feedback"] if g["serviceId"] == "statin-therapy"]
    assert rates["model"] == {"id": "ascvd-pce", "version": "1.0.0"}
    assert (rates["overridden"], rates["overrideRate"]) == (1, 1.0)
    assert rates["overrideReasons"][0]["code"] == card["overrideReasons"][1]["code"]

    drift = {d["model"]: d for d in data["drift"]}
    ascvd_inputs = {f["feature"]: f for f in drift["ascvd-pce"]["features"]}
    assert drift["ascvd-pce"]["decisions"] == 31  # the statin service ran the same model once more
    age = ascvd_inputs["age_years"]
    assert age["n"] == 31
    assert age["psi"] > 0.25
    assert age["band"] == "significant"
    assert max(age["live"]) == 1.0  # one patient: every call in one decile
    assert {f["band"] for f in drift["news2"]["features"]} <= {"no-reference", "insufficient-data"}
    assert data["shadow"] == []  # no shadow version is deployed
    assert data["models"]["ascvd-pce"]["ready"] is True

    page = admin.get("/dashboard?hours=1", headers=ADMIN).get_data(as_text=True)
    assert "major shift" in page
    assert "<svg" in page
    assert "statin-therapy" in page
    assert EMERY not in page
    assert EMERY not in str(data)


def test_a_shadow_version_is_compared_with_the_active_one(make_app: AppFactory, tmp_path: Path) -> None:
    models = tmp_path / "models"
    shutil.copytree(REPO_ROOT / "model_artifacts", models)
    shadow = models / "ascvd-pce" / "1.1.0"
    shutil.copytree(models / "ascvd-pce" / "1.0.0", shadow)
    card = yaml.safe_load((shadow / "model-card.yaml").read_text())
    card["version"] = "1.1.0"
    (shadow / "model-card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    deployments = '{"ascvd-pce": {"active": "1.0.0", "shadow": ["1.1.0"]}}'
    client = make_app(admin_token=TOKEN, models_dir=str(models), model_deployments=deployments).test_client()
    for _ in range(3):
        call(client, "ascvd-risk")

    data = client.get("/dashboard.json", headers=ADMIN).json
    (comparison,) = data["shadow"]
    assert (comparison["model"], comparison["output"]) == ("ascvd-pce", "risk_10y")
    assert (comparison["activeVersion"], comparison["shadowVersion"]) == ("1.0.0", "1.1.0")
    assert comparison["pairs"] == 3
    assert comparison["bandAgreement"] == 1.0
    assert comparison["maxAbsoluteDifference"] == 0.0
    assert comparison["histogram"]["active"] == comparison["histogram"]["shadow"]
    page = client.get("/dashboard", headers=ADMIN).get_data(as_text=True)
    assert "1.0.0 (active) vs 1.1.0 (shadow)" in page


@pytest.mark.parametrize(
    "query",
    [{"hours": "0"}, {"hours": "2161"}, {"hours": "x"}, {"since": "2026-02-01", "until": "2026-01-01"},
     {"since": "2020-01-01", "until": "2026-01-01"}, {"since": "yesterday"}],
)  # fmt: skip
def test_a_bad_window_is_a_400(admin: FlaskClient, query: dict[str, str]) -> None:
    assert admin.get("/dashboard.json", query_string=query, headers=ADMIN).status_code == 400


def test_an_explicit_window_is_reported_back(admin: FlaskClient) -> None:
    window = {"since": "2026-01-01", "until": "2026-01-08T00:00:00Z"}
    data = admin.get("/dashboard.json", query_string=window, headers=ADMIN).json
    assert data["window"] == {"since": "2026-01-01T00:00:00Z", "until": "2026-01-08T00:00:00Z"}
