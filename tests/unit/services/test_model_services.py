"""Declared model-backed services end to end in process: chart → features → ONNX model → cards.

The numbers on the cards are checked against the model runtime run on the same features, so these
tests pin the wiring; the clinical vectors themselves are pinned in ``tests/unit/models``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cds_server.hooks.cards import Card
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.request import parse_hook_request
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookCall
from cds_server.inference import ModelRegistry
from cds_server.services.policy import PREDICTION_EXTENSION
from tests.support import fhir_builders as fb
from tests.support.charts import SYNTHEA_NOW
from tests.support.charts import high_risk_chart
from tests.support.charts import prefetch_for
from tests.support.charts import synthea_chart
from tests.support.synthea import patient_id as synthea_patient_id

NOW = datetime.fromisoformat(SYNTHEA_NOW)
Services = dict[tuple[str, str], CdsService]


def run(
    service: CdsService,
    chart: list[dict[str, Any]],
    patient: str,
    *,
    draft_orders: list[dict[str, Any]] | None = None,
) -> ServiceAnswer:
    context: dict[str, Any] = {"userId": "Practitioner/1", "patientId": patient}
    if service.hook in ("order-select", "order-sign"):
        context["draftOrders"] = fb.bundle(draft_orders or [], kind="collection")
        if service.hook == "order-select":
            context["selections"] = [f"MedicationRequest/{o['id']}" for o in draft_orders or []] or [
                "MedicationRequest/x"
            ]
    request = parse_hook_request(
        {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    )
    answer = service.handler(HookCall(service, request, prefetch_for(service, chart), {}, NOW))
    assert isinstance(answer, ServiceAnswer)
    return answer


def only_card(answer: ServiceAnswer) -> Card:
    (card,) = answer.response.cards
    return card


def expected_outputs(models: ModelRegistry, model_id: str, answer: ServiceAnswer) -> dict[str, float]:
    assert answer.inputs is not None
    values = np.array(answer.inputs["values"], dtype=np.float32)
    return dict(models.predict(model_id, values).outputs)


def test_every_declared_service_is_registered_for_its_hooks(services: Services) -> None:
    assert set(services) == {
        ("ascvd-risk", "patient-view"),
        ("prevent-risk", "patient-view"),
        ("news2", "patient-view"),
        ("news2", "encounter-start"),
        ("diabetes-progression", "patient-view"),
        ("risk-trajectory", "patient-view"),
        ("statin-therapy", "order-select"),
        ("statin-therapy", "order-sign"),
    }
    for service in services.values():
        assert service.prefetch, service.id
        assert "{{context.patientId}}" in "".join(spec.template for spec in service.prefetch)


@pytest.mark.parametrize(
    ("service_key", "model_id", "patient"),
    [
        (("ascvd-risk", "patient-view"), "ascvd-pce", "Dirk_Kuhlman"),
        (("prevent-risk", "patient-view"), "prevent", "Dirk_Kuhlman"),
        (("prevent-risk", "patient-view"), "prevent", "Morris_Lockman"),
    ],
)
def test_synthea_patient_gets_a_result_card_with_the_prediction_extension(
    services: Services, models: ModelRegistry, service_key: tuple[str, str], model_id: str, patient: str
) -> None:
    service = services[service_key]
    answer = run(service, synthea_chart(patient), synthea_patient_id(patient))
    card = only_card(answer)
    prediction = card.extension[PREDICTION_EXTENSION] if card.extension else {}
    assert prediction["model"] == model_id
    assert prediction["version"] == "1.0.0"
    assert prediction["outputs"] == pytest.approx(expected_outputs(models, model_id, answer))
    assert card.source.topic is not None
    assert card.source.url == f"https://cds.example.org/models/{model_id}"
    assert card.uuid
    assert card.detail
    assert "| Input | Value | Recorded |" in card.detail
    assert answer.models[0].model_id == model_id
    assert answer.models[0].provider == "CPUExecutionProvider"


def test_ascvd_card_explains_inputs_band_and_modifiable_factors(
    services: Services, models: ModelRegistry
) -> None:
    service = services[("ascvd-risk", "patient-view")]
    answer = run(service, high_risk_chart("p1"), "p1")
    card = only_card(answer)
    risk = expected_outputs(models, "ascvd-pce", answer)["risk_10y"]
    assert risk >= 0.20
    assert card.indicator == "warning"
    assert card.summary == f"10-year ASCVD risk {risk * 100:.1f} % (high)"
    assert card.detail is not None
    for text in (
        "Total cholesterol | 240 mg/dL | 2020-03-01",
        "Systolic blood pressure | 162 mmHg | 2020-05-01",
        "Current smoker | yes",
    ):
        assert text in card.detail
    # what-ifs come from the same model run: SBP 120 and not smoking, each lower than the actual risk
    assert answer.inputs is not None
    row = np.array(answer.inputs["values"], dtype=np.float32)
    row[5] = 120
    with_bp = models.predict("ascvd-pce", row).outputs["risk_10y"]
    assert f"with systolic BP 120 mmHg: {with_bp * 100:.1f} %" in card.detail
    assert "with no smoking:" in card.detail
    assert card.detail.endswith(
        "Model: 10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations), `ascvd-pce` 1.0.0;"
        " data as of 2020-06-01."
    )
    assert {reason.code for reason in card.overrideReasons} >= {
        "cds-not-applicable",
        "patient-contraindication",
    }


def test_outside_the_equations_limits_there_is_no_score_but_a_reason(services: Services) -> None:
    young = high_risk_chart("p2", age_birth="1990-01-01")
    card = only_card(run(services[("ascvd-risk", "patient-view")], young, "p2"))
    assert card.summary.startswith("10-year ASCVD risk not calculated")
    assert card.extension is not None
    assert card.extension[PREDICTION_EXTENSION]["outputs"] == {}
    assert card.detail is not None
    assert "Age is outside 40 to 79" in card.detail
    assert (
        "Model: 10-year ASCVD risk (2013 ACC/AHA Pooled Cohort Equations), `ascvd-pce` 1.0.0." in card.detail
    )


def test_statin_suggestion_for_a_high_risk_patient_without_a_statin(services: Services) -> None:
    for hook in ("order-select", "order-sign"):
        card = only_card(run(services[("statin-therapy", hook)], high_risk_chart("p3"), "p3"))
        assert card.indicator == "warning"
        assert card.selectionBehavior == "any"
        (suggestion,) = card.suggestions
        (action,) = suggestion.actions
        assert action.type == "create"
        assert action.resource is not None
        medication = MedicationRequest.model_validate(action.resource)
        assert medication.status == "draft"
        assert medication.subject.reference == "Patient/p3"
        coding = medication.medicationCodeableConcept.coding[0]
        assert (coding.system, coding.code) == ("http://www.nlm.nih.gov/research/umls/rxnorm", "617310")


def test_no_statin_card_when_a_statin_is_active(services: Services) -> None:
    answer = run(services[("statin-therapy", "order-select")], high_risk_chart("p4", statin=True), "p4")
    assert answer.response.cards == ()


def test_no_statin_card_when_a_statin_is_being_ordered(services: Services) -> None:
    draft = fb.medication_request("p5", "617310", status="draft", intent="order")
    answer = run(
        services[("statin-therapy", "order-select")], high_risk_chart("p5"), "p5", draft_orders=[draft]
    )
    assert answer.response.cards == ()
    # the statin in draftOrders is what silenced it: the same chart without it gets the card
    assert run(services[("statin-therapy", "order-select")], high_risk_chart("p5"), "p5").response.cards


def test_no_statin_card_for_low_risk_or_unscorable_patients(services: Services) -> None:
    assert (
        run(
            services[("statin-therapy", "order-sign")],
            synthea_chart("Liz_Conn"),
            synthea_patient_id("Liz_Conn"),
        ).response.cards
        == ()
    )
    young = high_risk_chart("p6", age_birth="1995-01-01")
    assert run(services[("statin-therapy", "order-sign")], young, "p6").response.cards == ()


def news2_chart(
    patient: str, *, respiratory_rate: float, spo2: float, temperature: float, systolic: float, pulse: float
) -> list[dict[str, Any]]:
    when = "2020-05-31T22:00:00+00:00"
    return [
        fb.patient(patient, birth_date="1950-01-01", gender="female"),
        fb.observation(patient, "9279-1", respiratory_rate, "/min", when),
        fb.observation(patient, "59408-5", spo2, "%", when),
        fb.observation(patient, "8310-5", temperature, "Cel", when),
        fb.blood_pressure(patient, systolic, 80, when),
        fb.observation(patient, "8867-4", pulse, "/min", when),
        fb.coded_observation(patient, "67775-7", fb.SNOMED, "248234008", when),
    ]


@pytest.mark.parametrize(
    ("vitals", "score", "indicator", "band"),
    [
        # the RCP-correct total of the IG example (ml-serving §B4.4): 5, medium; then 0; then 14
        (
            {"respiratory_rate": 21, "spo2": 93, "temperature": 37.5, "systolic": 120, "pulse": 95},
            5,
            "warning",
            "medium",
        ),
        (
            {"respiratory_rate": 16, "spo2": 97, "temperature": 37.0, "systolic": 125, "pulse": 70},
            0,
            "info",
            "low",
        ),
        (
            {"respiratory_rate": 26, "spo2": 90, "temperature": 39.5, "systolic": 88, "pulse": 135},
            14,
            "critical",
            "high",
        ),
    ],
)
def test_news2_bands_and_indicators(
    services: Services, vitals: dict[str, float], score: int, indicator: str, band: str
) -> None:
    card = only_card(run(services[("news2", "patient-view")], news2_chart("p7", **vitals), "p7"))
    assert card.summary == f"NEWS2 {score} ({band} clinical risk)"
    assert card.indicator == indicator


def test_shadow_outputs_are_recorded_never_shown(services: Services) -> None:
    answer = run(services[("ascvd-risk", "patient-view")], high_risk_chart("p8"), "p8")
    assert answer.outputs is not None
    assert answer.outputs["active"]["version"] == "1.0.0"
    assert "shadow" not in answer.outputs  # none deployed; see tests/api/test_model_services.py for a shadow
