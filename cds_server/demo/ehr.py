"""A pretend EHR for the demo chart: answers prefetch queries from a demo chart, builds hook requests.

It does what an EHR does before calling a service: render the service's prefetch templates for
the patient in view and answer each from its own records — here a bundled Synthea chart, with a
small subset of FHIR search (token ``code``, ``status``, ``clinical-status``, ``_sort=-date``,
``_count``). The hook request then goes to the real endpoint like any EHR's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cds_server.hooks.prefetch import FhirQuery
from cds_server.hooks.prefetch import TemplateUnresolvable
from cds_server.hooks.prefetch import render_template
from cds_server.hooks.request import HookRequest
from cds_server.hooks.service import CdsService

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

#: drugs the demo can order: (RxNorm SCD, display); a suggestion the clinician accepts (the statin
#: card's atorvastatin) joins the pending orders by its code, so it must be one of them
ORDERABLE_DRUGS = {
    "617310": "atorvastatin 20 MG Oral Tablet",
    "314076": "lisinopril 10 MG Oral Tablet",
    "860975": "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
    "197361": "amlodipine 5 MG Oral Tablet",
}
#: pre-selected in the order box: not a statin, so order-select shows the statin suggestion
DEFAULT_DRUG = "314076"


def _codings(resource: dict[str, Any]) -> list[tuple[str, str]]:
    concept = resource.get("code") or resource.get("medicationCodeableConcept") or {}
    return [
        (c.get("system", ""), c.get("code", "")) for c in concept.get("coding", []) if isinstance(c, dict)
    ]


def _date(resource: dict[str, Any]) -> str:
    for field in ("effectiveDateTime", "authoredOn", "onsetDateTime", "recordedDate", "issued"):
        if isinstance(resource.get(field), str):
            return str(resource[field])
    period = resource.get("period") or resource.get("performedPeriod") or {}
    return str(period.get("start", ""))


def _matches(resource: dict[str, Any], name: str, value: str) -> bool:
    wanted = value.split(",")
    if name == "code":
        have = _codings(resource)
        return any(
            (system, code) in have if system else any(code == c for _, c in have)
            for system, _, code in (token.rpartition("|") for token in wanted)
        )
    if name == "status":
        return str(resource.get("status", "")) in wanted
    if name == "clinical-status":
        codes = [c.get("code") for c in (resource.get("clinicalStatus") or {}).get("coding", [])]
        return any(code in wanted for code in codes)
    return True  # patient= and parameters this pretend EHR does not filter on


def answer(query: FhirQuery, chart: Sequence[dict[str, Any]], patient_id: str) -> dict[str, Any] | None:
    """What the EHR returns for a read (the resource or ``None``) or a search (a searchset Bundle)."""
    resource_type, _, ident = query.path.partition("/")
    of_type = [r for r in chart if r.get("resourceType") == resource_type]
    if ident:
        return next((r for r in of_type if r.get("id") == ident), None)
    params = dict(query.params)
    selected = [r for r in of_type if all(_matches(r, name, value) for name, value in query.params)]
    if params.get("_sort") == "-date":
        selected.sort(key=_date, reverse=True)
    if "_count" in params and params["_count"].isdigit():
        selected = selected[: int(params["_count"])]
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(selected),
        "entry": [
            {"fullUrl": f"{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in selected
        ],
    }


def draft_order(patient_id: str, rxnorm: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": f"draft-{rxnorm}",
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": rxnorm, "display": ORDERABLE_DRUGS[rxnorm]}],
            "text": ORDERABLE_DRUGS[rxnorm],
        },
        "subject": {"reference": f"Patient/{patient_id}"},
    }


def hook_request(
    service: CdsService,
    chart: Sequence[dict[str, Any]],
    *,
    patient_id: str,
    user_id: str,
    now: datetime,
    drugs: Sequence[str] = (),
) -> dict[str, Any]:
    """The request body an EHR would send this service, with every prefetch key it can answer.

    For the order hooks, ``drugs`` are the draft orders (RxNorm codes of :data:`ORDERABLE_DRUGS`): the
    first is the one being selected, the others were ordered earlier in the session (an accepted
    suggestion, say).
    """
    context: dict[str, Any] = {"userId": user_id, "patientId": patient_id}
    if service.hook in ("order-select", "order-sign"):
        codes = list(dict.fromkeys(drugs)) or [DEFAULT_DRUG]
        orders = [draft_order(patient_id, code) for code in codes]
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": order} for order in orders],
        }
        if service.hook == "order-select":
            context["selections"] = [f"MedicationRequest/{orders[0]['id']}"]
    body: dict[str, Any] = {"hook": service.hook, "hookInstance": str(uuid.uuid4()), "context": context}
    as_request = HookRequest.model_validate(body)
    prefetch: dict[str, Any] = {}
    for spec in service.prefetch:
        try:
            query = render_template(spec.template, as_request, today=now.date(), key=spec.key)
        except TemplateUnresolvable:
            continue  # an EHR omits a key it cannot fill; the service decides what that means
        prefetch[spec.key] = answer(query, chart, patient_id)
    body["prefetch"] = prefetch
    return body
