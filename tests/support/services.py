"""Callable CDS services used by the tests (the ``registerService`` extension point).

Loaded through the ``service_modules`` setting, exactly as an integrator's own module would be.
"""

from __future__ import annotations

from typing import Any

from cds_server.hooks.cards import Action
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Coding
from cds_server.hooks.cards import Link
from cds_server.hooks.cards import Source
from cds_server.hooks.cards import Suggestion
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
