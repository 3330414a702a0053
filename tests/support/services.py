"""Callable CDS services used by the tests (the ``registerService`` extension point).

Loaded through the ``service_modules`` setting, exactly as an integrator's own module would be.
"""

from __future__ import annotations

import threading
from typing import Any

from cds_server.hooks.cards import Action
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Coding
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.cards import Link
from cds_server.hooks.cards import Source
from cds_server.hooks.cards import Suggestion
from cds_server.hooks.decisions import ModelUse
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.registry import ServiceRegistry
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import HookCall
from cds_server.hooks.service import OutcomePolicy
from cds_server.hooks.service import PrefetchSpec

PATIENT = PrefetchSpec("patient", "Patient/{{context.patientId}}")
BP_QUERY = "Observation?patient={{context.patientId}}&code=http://loinc.org|55284-4&_sort=-date&_count=%d"
SOURCE = Source(label="cds-server test services", topic=Coding(system="urn:cds-server:test", code="summary"))


def _entries(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    return [entry["resource"] for entry in value.get("entry", []) if "resource" in entry]


def _systolic(observation: dict[str, Any]) -> float | None:
    for component in observation.get("component", []):
        codes = {coding.get("code") for coding in component.get("code", {}).get("coding", [])}
        if "8480-6" in codes:
            return float(component["valueQuantity"]["value"])
    return None


def summarise(call: HookCall) -> list[Card]:
    """One info card counting what the chart holds; says which optional data was unavailable."""
    bp = _entries(call.prefetch.get("bloodPressure"))
    conditions = _entries(call.prefetch.get("conditions"))
    patient = call.prefetch["patient"]
    missing = ", ".join(f"{key} ({reason})" for key, reason in sorted(call.unavailable.items()))
    return [
        Card(
            summary=f"{len(bp)} blood pressure panels and {len(conditions)} conditions on record",
            detail=f"Not available: {missing}" if missing else None,
            indicator="info",
            source=SOURCE,
            extension={
                "tests.patient-id": patient["id"],
                "tests.systolic": [_systolic(obs) for obs in bp],
                "tests.unavailable": sorted(call.unavailable),
            },
        )
    ]


def sign_summary(call: HookCall) -> list[Card]:
    orders = _entries(call.request.context.get("draftOrders"))
    return [Card(summary=f"{len(orders)} draft orders to sign", indicator="info", source=SOURCE)]


def showcase(call: HookCall) -> list[Card]:
    """A card using every part of the response model."""
    return [
        Card(
            summary="Consider a moderate-intensity statin",
            detail="**10-year risk** is above the treatment threshold.",
            indicator="warning",
            source=Source(
                label="Showcase", url="https://example.org/model", topic=Coding(system="urn:x", code="statin")
            ),
            selectionBehavior="any",
            suggestions=(
                Suggestion(
                    label="Order atorvastatin 20 mg",
                    isRecommended=True,
                    actions=(
                        Action(
                            type="create",
                            description="Draft order for atorvastatin 20 mg daily",
                            resource={
                                "resourceType": "MedicationRequest",
                                "status": "draft",
                                "intent": "proposal",
                            },
                        ),
                    ),
                ),
            ),
            overrideReasons=(
                Coding(
                    system="http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
                    code="patient-refuses",
                    display="Patient refuses",
                ),
            ),
            links=(Link(label="Model card", url="https://example.org/models/x", type="absolute"),),
        )
    ]


def broken(call: HookCall) -> list[Card]:
    # a service bug: the summary is far longer than the spec allows
    return [Card(summary="x" * 400, indicator="info", source=SOURCE)]


class Rendezvous:
    """Makes concurrent calls meet inside a handler: after ``arm(n)``, calls wait until n are there.

    Used to force two calls with the same hookInstance past the replay check before either records.
    """

    def __init__(self) -> None:
        self._barrier: threading.Barrier | None = None

    def arm(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties, timeout=5)

    def disarm(self) -> None:
        self._barrier = None

    def wait(self) -> None:
        barrier = self._barrier
        if barrier is not None:
            barrier.wait()


RENDEZVOUS = Rendezvous()
DEMO_MODEL = ModelUse("demo-risk", "1.0.0", "a1" * 32, "CPUExecutionProvider")
DEMO_SHADOW = ModelUse("demo-risk", "2.0.0-rc1", "b2" * 32, "CPUExecutionProvider", role="shadow")
DEMO_REASONS = (
    Coding(system="urn:cds-server:test:override", code="patient-refuses", display="Patient refuses"),
    Coding(system="urn:cds-server:test:override", code="not-applicable", display="Not applicable"),
)


def risk_demo(call: HookCall) -> ServiceAnswer:
    """A model-backed answer: inputs with provenance, active and shadow outputs, models, notes."""
    RENDEZVOUS.wait()
    patient = call.prefetch["patient"]
    panels = _entries(call.prefetch.get("bloodPressure"))
    inputs: dict[str, Any] = {
        "birth_date": {"value": patient.get("birthDate"), "source": f"Patient/{patient['id']}"},
    }
    notes: tuple[str, ...] = ()
    systolic = _systolic(panels[0]) if panels else None
    if systolic is not None:
        inputs["systolic_bp"] = {
            "value": systolic,
            "unit": "mm[Hg]",
            "source": f"Observation/{panels[0]['id']}",
            "effective": panels[0].get("effectiveDateTime"),
        }
    else:
        notes = ("missing-optional:bloodPressure",)
    risk = round(0.05 + max(0.0, (systolic or 120.0) - 120.0) / 400, 4)
    card = Card(
        summary=f"Demo risk {risk:.0%}",
        indicator="warning" if risk >= 0.1 else "info",
        source=SOURCE,
        selectionBehavior="any",
        suggestions=(
            Suggestion(
                label="Start a statin",
                actions=(
                    Action(
                        type="create",
                        description="Draft statin order",
                        resource={
                            "resourceType": "MedicationRequest",
                            "status": "draft",
                            "intent": "proposal",
                        },
                    ),
                ),
            ),
            Suggestion(
                label="Order a lipid panel",
                actions=(
                    Action(
                        type="create",
                        description="Draft lipid panel order",
                        resource={"resourceType": "ServiceRequest", "status": "draft", "intent": "proposal"},
                    ),
                ),
            ),
        ),
        overrideReasons=DEMO_REASONS,
        extension={
            "cds_server.prediction": {"model": "demo-risk", "version": "1.0.0", "outputs": {"risk": risk}}
        },
    )
    return ServiceAnswer(
        response=HookResponse(cards=(card,)),
        inputs=inputs,
        outputs={"demo-risk@1.0.0": {"risk": risk}, "demo-risk@2.0.0-rc1": {"risk": round(risk * 1.1, 4)}},
        models=(DEMO_MODEL, DEMO_SHADOW),
        notes=notes,
    )


def register_services(registry: ServiceRegistry) -> None:
    optional_bp = PrefetchSpec("bloodPressure", BP_QUERY % 3, required=False)
    conditions = PrefetchSpec(
        "conditions", "Condition?patient={{context.patientId}}&_count=50", required=False
    )
    registry.register(
        CdsService(
            id="patient-summary",
            hook="patient-view",
            title="Chart summary",
            description="Counts blood pressure panels and conditions (test service).",
            prefetch=(PATIENT, optional_bp, conditions),
            usage_requirements="Reads Patient, Observation and Condition.",
            handler=summarise,
        )
    )
    registry.register(
        CdsService(
            id="patient-summary",
            hook="order-sign",
            title="Orders summary",
            description="Counts draft orders (test service).",
            prefetch=(PATIENT,),
            handler=sign_summary,
        )
    )
    registry.register(
        CdsService(
            id="bp-required",
            hook="patient-view",
            description="Needs blood pressure panels, two per page (test service).",
            prefetch=(PATIENT, PrefetchSpec("bloodPressure", BP_QUERY % 2)),
            handler=summarise,
        )
    )
    registry.register(
        CdsService(
            id="bp-outcome-fails",
            hook="patient-view",
            description="An OperationOutcome sent for bloodPressure is final (test service).",
            prefetch=(PATIENT, PrefetchSpec("bloodPressure", BP_QUERY % 3, on_outcome=OutcomePolicy.FAIL)),
            handler=summarise,
        )
    )
    registry.register(
        CdsService(
            id="showcase",
            hook="patient-view",
            description="Every card feature (test service).",
            handler=showcase,
        )
    )
    registry.register(
        CdsService(
            id="broken",
            hook="patient-view",
            description="Returns an invalid card (test service).",
            handler=broken,
        )
    )
    registry.register(
        CdsService(
            id="risk-demo",
            hook="patient-view",
            title="Demo risk",
            description="A model-backed answer with inputs, outputs, models and suggestions (test service).",
            prefetch=(PATIENT, PrefetchSpec("bloodPressure", BP_QUERY % 3, required=False)),
            handler=risk_demo,
        )
    )
