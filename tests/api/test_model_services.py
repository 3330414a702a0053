"""Model-backed services over HTTP: the issue's "done when" for the reference models.

Synthea data ends in 2020, so these apps pin the clinical "now" with ``reference_time``.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from fhir.resources.R4B.medicationrequest import MedicationRequest
from flask import Flask
from flask.testing import FlaskClient

from cds_server.cli import main as cli
from cds_server.services.policy import PREDICTION_EXTENSION
from cds_server.state import get_state
from tests.conftest import AppFactory
from tests.support.assertions import assert_operation_outcome
from tests.support.charts import SYNTHEA_NOW
from tests.support.charts import high_risk_chart
from tests.support.charts import prefetch_for
from tests.support.charts import synthea_chart
from tests.support.paths import REPO_ROOT
from tests.support.synthea import patient_id

DIABETIC = "Emery_Purdy"  # diabetes and hypertension, every input of every model recorded by mid-2020


def hook_body(
    app: Flask, service_id: str, hook: str, chart: list[dict[str, Any]], patient: str
) -> dict[str, Any]:
    service = get_state(app).registry.get(service_id, hook)
    context: dict[str, Any] = {"userId": "Practitioner/1", "patientId": patient}
    if hook in ("order-select", "order-sign"):
        draft = {
            "resourceType": "MedicationRequest",
            "id": "draft-1",
            "status": "draft",
            "intent": "order",
            "subject": {"reference": f"Patient/{patient}"},
            "medicationCodeableConcept": {
                "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "197361"}]
            },
        }
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft}],
        }
        if hook == "order-select":
            context["selections"] = ["MedicationRequest/draft-1"]
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch_for(service, chart),
    }


@pytest.fixture
def synthea_app(make_app: AppFactory) -> Flask:
    return make_app(reference_time=SYNTHEA_NOW)


@pytest.mark.parametrize(
    ("service_id", "model_id", "summary_start"),
    [
        ("ascvd-risk", "ascvd-pce", "10-year ASCVD risk "),
        ("prevent-risk", "prevent", "10-year risk: CVD "),
        ("diabetes-progression", "diabetes-progression", "Predicted 1-year diabetes progression score "),
        # no vital signs in the 24 hours before the reference time: the card says why there is no score
        ("news2", "news2", "NEWS2 not calculated: no recent "),
    ],
)
def test_patient_view_of_a_synthea_patient_for_each_reference_service(
    synthea_app: Flask, service_id: str, model_id: str, summary_start: str
) -> None:
    body = hook_body(synthea_app, service_id, "patient-view", synthea_chart(DIABETIC), patient_id(DIABETIC))
    response = synthea_app.test_client().post(f"/cds-services/{service_id}", json=body)
    assert response.status_code == 200, response.json
    (card,) = response.json["cards"]
    assert card["summary"].startswith(summary_start)
    prediction = card["extension"][PREDICTION_EXTENSION]
    assert (prediction["model"], prediction["version"]) == (model_id, "1.0.0")
    if service_id != "news2":
        assert set(prediction["outputs"]) == set(get_state(synthea_app).models.card(model_id).output_names)
    assert card["source"]["url"] == f"http://127.0.0.1:8000/models/{model_id}"
    assert card["source"]["topic"]["system"] == "urn:cds-server:card-type"


def test_order_select_for_a_high_risk_patient_without_a_statin_suggests_one(synthea_app: Flask) -> None:
    client = synthea_app.test_client()
    for hook in ("order-select", "order-sign"):
        body = hook_body(synthea_app, "statin-therapy", hook, synthea_chart(DIABETIC), patient_id(DIABETIC))
        response = client.post("/cds-services/statin-therapy", json=body)
        assert response.status_code == 200
        (card,) = response.json["cards"]
        assert card["selectionBehavior"] == "any"
        (suggestion,) = card["suggestions"]
        resource = suggestion["actions"][0]["resource"]
        validated = MedicationRequest.model_validate(resource)  # R4 via fhir.resources R4B
        assert validated.medicationCodeableConcept.coding[0].code == "617310"
        assert validated.subject.reference == f"Patient/{patient_id(DIABETIC)}"
        assert card["extension"][PREDICTION_EXTENSION]["outputs"]["risk_10y"] >= 0.075


def test_no_statin_card_when_one_is_active(synthea_app: Flask) -> None:
    chart = high_risk_chart("p1", statin=True)
    body = hook_body(synthea_app, "statin-therapy", "order-sign", chart, "p1")
    response = synthea_app.test_client().post("/cds-services/statin-therapy", json=body)
    assert response.status_code == 200
    assert response.json == {"cards": []}


def _copy_models(tmp_path: Path) -> Path:
    target = tmp_path / "model_artifacts"
    shutil.copytree(REPO_ROOT / "model_artifacts", target)
    return target


def test_a_corrupt_model_makes_only_its_services_503(make_app: AppFactory, tmp_path: Path) -> None:
    models = _copy_models(tmp_path)
    onnx = models / "ascvd-pce" / "1.0.0" / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped weight byte still loads in onnxruntime: sha256 catches it
    onnx.write_bytes(bytes(data))
    app = make_app(models_dir=str(models), reference_time=SYNTHEA_NOW)
    client = app.test_client()
    for service_id, hook in (("ascvd-risk", "patient-view"), ("statin-therapy", "order-sign")):
        response = client.post(
            f"/cds-services/{service_id}",
            json=hook_body(app, service_id, hook, synthea_chart(DIABETIC), patient_id(DIABETIC)),
        )
        assert_operation_outcome(response, 503, "model-not-ready")
        assert "Retry-After" in response.headers
    response = client.post(
        "/cds-services/prevent-risk",
        json=hook_body(app, "prevent-risk", "patient-view", synthea_chart(DIABETIC), patient_id(DIABETIC)),
    )
    assert response.status_code == 200
    ready = client.get("/readyz").json
    assert ready["status"] == "degraded"
    assert ready["checks"]["models"]["ascvd-pce"]["ready"] is False
    assert "sha256" in ready["checks"]["models"]["ascvd-pce"]["reason"]
    assert ready["checks"]["models"]["prevent"]["ready"] is True

    result = CliRunner().invoke(cli, ["models", "verify", "--dir", str(models)])
    assert result.exit_code == 1
    assert "ascvd-pce/1.0.0/model.onnx" in result.output
    assert "prevent" not in result.output


def test_shadow_version_runs_on_live_inputs_and_is_recorded_never_shown(
    make_app: AppFactory, tmp_path: Path
) -> None:
    models = _copy_models(tmp_path)
    shutil.copytree(models / "ascvd-pce" / "1.0.0", models / "ascvd-pce" / "1.0.1")
    card_file = models / "ascvd-pce" / "1.0.1" / "model-card.yaml"
    card_file.write_text(card_file.read_text().replace("version: 1.0.0", "version: 1.0.1", 1))
    deployment = models / "ascvd-pce" / "deployment.yaml"
    deployment.write_text(
        yaml.safe_dump({"active": "1.0.0", "shadow": ["1.0.1"], "providers": ["CPUExecutionProvider"]})
    )
    app = make_app(models_dir=str(models), reference_time=SYNTHEA_NOW)
    body = hook_body(app, "ascvd-risk", "patient-view", synthea_chart(DIABETIC), patient_id(DIABETIC))
    response = app.test_client().post("/cds-services/ascvd-risk", json=body)
    assert response.status_code == 200
    assert "1.0.1" not in response.get_data(as_text=True)
    with get_state(app).database.engine.connect() as connection:
        (outputs,) = connection.execute(sa.text("SELECT outputs FROM decision")).one()
        roles = connection.execute(sa.text("SELECT version, role FROM decision_model ORDER BY role")).all()
    outputs = outputs if isinstance(outputs, dict) else json.loads(outputs)
    assert outputs["shadow"][0]["version"] == "1.0.1"
    assert outputs["shadow"][0]["outputs"] == outputs["active"]["outputs"]
    assert [tuple(row) for row in roles] == [("1.0.0", "active"), ("1.0.1", "shadow")]


def test_model_card_pages(client: FlaskClient) -> None:
    listing = client.get("/models").json["models"]
    assert {m["id"] for m in listing} == {"ascvd-pce", "prevent", "news2", "diabetes-progression"}
    page = client.get("/models/ascvd-pce", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "Source attributes (ONC HTI-1" in text
    assert text.count("<dt>") >= 31
    card = client.get("/models/ascvd-pce").json["card"]
    assert len(card["source_attributes"]) == 31
    assert_operation_outcome(client.get("/models/nope"), 404, "not-found")
