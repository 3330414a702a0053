"""The demo chart (``/demo``): a pretend EHR over the bundled Synthea patients.

The page itself calls the real CDS Hooks endpoints; these routes only give it what an EHR has —
the patient list, a chart summary, the hook request an EHR would send — and, in development only,
a JWT of the development client for the URL it is about to call.
"""

from __future__ import annotations

import functools
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from cds_server.api.responses import json_response
from cds_server.demo.ehr import DEFAULT_DRUG
from cds_server.demo.ehr import ORDERABLE_DRUGS
from cds_server.demo.ehr import hook_request
from cds_server.demo.patients import DemoPatient
from cds_server.demo.patients import chart
from cds_server.demo.patients import demo_patients
from cds_server.demo.summary import summarise
from cds_server.errors import BadRequest
from cds_server.errors import NotFound
from cds_server.state import get_state

bp = Blueprint("demo", __name__, url_prefix="/demo")

PROFILES = {
    "Emery_Purdy": "diabetes, hypertension",
    "Dirk_Kuhlman": "diabetes, hypertension, kidney disease",
    "Morris_Lockman": "diabetes, hypertension",
    "Louis_Maggio": "diabetes",
    "Liz_Conn": "hypertension",
    "Floyd_Connelly": "prediabetes",
}


@bp.get("")
def page() -> Response:
    models = sorted(get_state().models.status())
    return Response(
        render_template("demo.html", drugs=ORDERABLE_DRUGS, default_drug=DEFAULT_DRUG, models=models),
        content_type="text/html; charset=utf-8",
    )


@bp.get("/patients")
def patients() -> Response:
    now = _now()
    listing = []
    for patient in demo_patients():
        summary = summarise(_chart(patient, now), now=now)
        listing.append(
            {
                "id": summary["id"],
                "name": summary["name"],
                "gender": summary["gender"],
                "age": summary["age"],
                "profile": PROFILES.get(patient.name, ""),
            }
        )
    return json_response(listing)


@bp.get("/patients/<patient_id>")
def patient(patient_id: str) -> Response:
    now = _now()
    return json_response(summarise(_chart(_find(patient_id), now), now=now))


@bp.get("/patients/<patient_id>/request")
def request_for(patient_id: str) -> Response:
    """The request body an EHR would send ``service`` for this patient, prefetch answered from the chart.

    ``drug`` (repeatable) lists the draft orders of the order hooks, the one being selected first.
    """
    now = _now()
    service_id, hook = request.args.get("service", ""), request.args.get("hook", "")
    drugs = [code for code in request.args.getlist("drug") if code]
    if any(code not in ORDERABLE_DRUGS for code in drugs):
        raise BadRequest("Unknown drug for the demo.")
    service = get_state().registry.get(service_id, hook)
    body = hook_request(
        service,
        _chart(_find(patient_id), now),
        patient_id=patient_id,
        user_id="Practitioner/demo",
        now=now,
        drugs=drugs,
    )
    return json_response(body)


def _now() -> datetime:
    # the charts are moved to the clinical "now" the server itself uses
    return get_state().settings.fixed_now or datetime.now(UTC)


def _find(patient_id: str) -> DemoPatient:
    for patient in demo_patients():
        if _patient_id(patient) == patient_id:
            return patient
    raise NotFound("No demo patient with this id.")


@functools.cache
def _patient_id(patient: DemoPatient) -> str:
    return str(next(r for r in chart(patient) if r["resourceType"] == "Patient")["id"])


def _chart(patient: DemoPatient, now: datetime) -> list[dict[str, Any]]:
    return chart(patient, now=now)
