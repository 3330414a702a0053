"""Service registry: dispatch on (id, hook), discovery document."""

from __future__ import annotations

import pytest

from cds_server.errors import InvalidHookRequest
from cds_server.errors import ServiceNotFound
from cds_server.hooks.registry import ServiceRegistry
from cds_server.hooks.service import CdsService
from cds_server.hooks.service import PrefetchSpec


def svc(service_id: str, hook: str, **fields: object) -> CdsService:
    return CdsService(
        id=service_id, hook=hook, description=f"{service_id} on {hook}", handler=lambda call: [], **fields
    )  # type: ignore[arg-type]


def test_empty_registry_discovers_an_empty_list() -> None:
    assert ServiceRegistry().discovery() == {"services": []}


def test_one_id_serves_several_hooks_and_dispatches_on_the_pair() -> None:
    registry = ServiceRegistry()
    view, sign = svc("statin", "patient-view"), svc("statin", "order-sign")
    registry.register(view)
    registry.register(sign)
    assert registry.get("statin", "patient-view") is view
    assert registry.get("statin", "order-sign") is sign
    assert [entry["hook"] for entry in registry.discovery()["services"]] == ["order-sign", "patient-view"]


def test_unknown_id_is_not_found_and_unserved_hook_is_bad_request() -> None:
    registry = ServiceRegistry()
    registry.register(svc("statin", "patient-view"))
    with pytest.raises(ServiceNotFound):
        registry.get("nope", "patient-view")
    with pytest.raises(InvalidHookRequest, match="patient-view"):
        registry.get("statin", "order-sign")


def test_registering_a_pair_twice_needs_replace() -> None:
    registry = ServiceRegistry()
    registry.register(svc("a", "patient-view"))
    with pytest.raises(ValueError, match="already"):
        registry.register(svc("a", "patient-view"))
    replacement = svc("a", "patient-view", title="New")
    registry.register(replacement, replace=True)
    assert registry.get("a", "patient-view") is replacement
    registry.unregister("a")
    assert len(registry) == 0


def test_discovery_entry_has_spec_fields_and_omits_empty_ones() -> None:
    entry = svc(
        "a",
        "patient-view",
        title="T",
        prefetch=(PrefetchSpec("patient", "Patient/{{context.patientId}}"),),
        usage_requirements="Needs FHIR access",
    ).discovery_entry()
    assert entry == {
        "hook": "patient-view",
        "id": "a",
        "description": "a on patient-view",
        "title": "T",
        "prefetch": {"patient": "Patient/{{context.patientId}}"},
        "usageRequirements": "Needs FHIR access",
    }
    assert set(svc("b", "patient-view").discovery_entry()) == {"hook", "id", "description"}


@pytest.mark.parametrize("bad_id", ["", "a/b", "a b", "../x", "x?y"])
def test_service_ids_are_url_safe(bad_id: str) -> None:
    with pytest.raises(ValueError, match="URL-safe"):
        svc(bad_id, "patient-view")


def test_description_is_required() -> None:
    with pytest.raises(ValueError, match="description"):
        CdsService(id="a", hook="patient-view", description="", handler=lambda call: [])
