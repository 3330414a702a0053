"""Cards cannot be built in breach of the CDS Hooks response rules; the wire form has no empties."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cds_server.hooks.cards import Action
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Coding
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.cards import Link
from cds_server.hooks.cards import Source
from cds_server.hooks.cards import Suggestion
from cds_server.hooks.cards import SystemAction

SOURCE = Source(label="Test")
DRAFT = {"resourceType": "MedicationRequest", "status": "draft"}


def card(**fields: Any) -> Card:
    values: dict[str, Any] = {"summary": "Something to know", "indicator": "info", "source": SOURCE}
    values.update(fields)
    return Card(**values)


def suggestion(**fields: Any) -> Suggestion:
    values: dict[str, Any] = {
        "label": "Do it",
        "actions": (Action(type="create", description="d", resource=DRAFT),),
    }
    values.update(fields)
    return Suggestion(**values)


def test_summary_must_be_under_140_characters() -> None:
    assert card(summary="x" * 139).summary
    with pytest.raises(ValidationError):
        card(summary="x" * 140)
    with pytest.raises(ValidationError):
        card(summary="")


@pytest.mark.parametrize("indicator", ["info", "warning", "critical"])
def test_indicator_values(indicator: str) -> None:
    assert card(indicator=indicator).indicator == indicator


@pytest.mark.parametrize("indicator", ["success", "hard-stop", "INFO", ""])
def test_other_indicators_are_rejected(indicator: str) -> None:
    with pytest.raises(ValidationError):
        card(indicator=indicator)


def test_source_label_is_required() -> None:
    with pytest.raises(ValidationError):
        Source(label="")


@pytest.mark.parametrize("url", ["/relative", "javascript:alert(1)", "ftp://x.org/a", "https://"])
def test_source_and_link_urls_are_absolute_http(url: str) -> None:
    with pytest.raises(ValidationError):
        Source(label="x", url=url)
    with pytest.raises(ValidationError):
        Link(label="x", url=url, type="absolute")


def test_suggestions_need_selection_behavior_cds_resp_6() -> None:
    with pytest.raises(ValidationError, match="cds-resp-6"):
        card(suggestions=(suggestion(),))
    assert card(suggestions=(suggestion(),), selectionBehavior="any").selectionBehavior == "any"


def test_selection_behavior_values() -> None:
    with pytest.raises(ValidationError):
        card(suggestions=(suggestion(),), selectionBehavior="all")


def test_at_most_one_recommends_one_suggestion_cds_resp_1() -> None:
    two = (suggestion(isRecommended=True), suggestion(isRecommended=True))
    with pytest.raises(ValidationError, match="cds-resp-1"):
        card(suggestions=two, selectionBehavior="at-most-one")
    assert card(suggestions=two, selectionBehavior="any")


def test_delete_uses_resource_id_cds_resp_2() -> None:
    assert Action(type="delete", description="Remove", resourceId="MedicationRequest/1")
    with pytest.raises(ValidationError, match="cds-resp-2"):
        Action(type="delete", description="Remove", resource=DRAFT)
    with pytest.raises(ValidationError, match="cds-resp-2"):
        Action(type="delete", description="Remove", resourceId="MedicationRequest/1", resource=DRAFT)


@pytest.mark.parametrize("action_type", ["create", "update"])
def test_create_and_update_carry_a_resource(action_type: str) -> None:
    with pytest.raises(ValidationError):
        Action(type=action_type, description="x")
    with pytest.raises(ValidationError):
        Action(type=action_type, description="x", resource={"status": "draft"})


def test_app_context_only_on_smart_links_cds_resp_3() -> None:
    assert Link(label="App", url="https://app.example.org/launch", type="smart", appContext="job=1")
    with pytest.raises(ValidationError, match="cds-resp-3"):
        Link(label="App", url="https://app.example.org", type="absolute", appContext="job=1")


def test_override_reasons_need_display_cds_resp_4() -> None:
    with pytest.raises(ValidationError, match="cds-resp-4"):
        card(overrideReasons=(Coding(system="urn:x", code="a"),))


def test_suggestion_actions_need_description_cds_resp_5() -> None:
    with pytest.raises(ValidationError):
        Action(type="create", resource=DRAFT)  # type: ignore[call-arg]
    # system actions may go without one
    assert SystemAction(type="create", resource=DRAFT).description is None


def test_action_selection_behavior_values_cds_resp_7() -> None:
    assert suggestion(actionSelectionBehavior="at-most-one")
    with pytest.raises(ValidationError):
        suggestion(actionSelectionBehavior="one")


def test_cards_and_suggestions_get_distinct_uuids() -> None:
    first, second = card(), card()
    assert uuid.UUID(first.uuid).version == 4
    assert first.uuid != second.uuid
    one, two = suggestion(), suggestion()
    assert one.uuid != two.uuid


def test_duplicate_uuids_are_refused() -> None:
    same = card()
    with pytest.raises(ValidationError):
        HookResponse(cards=(same, same))
    again = suggestion()
    with pytest.raises(ValidationError):
        card(suggestions=(again, again), selectionBehavior="any")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        card(colour="red")


def test_wire_form_omits_nulls_and_empties_but_keeps_cards() -> None:
    assert HookResponse().to_wire() == {"cards": []}
    body = HookResponse(cards=(card(),)).to_wire()
    (wire,) = body["cards"]
    assert set(wire) == {"uuid", "summary", "indicator", "source"}
    assert wire["source"] == {"label": "Test"}
    assert "systemActions" not in body


def test_wire_form_keeps_enums_lowercase_and_resources_as_objects() -> None:
    body = HookResponse(
        cards=(card(suggestions=(suggestion(),), selectionBehavior="any"),),
        systemActions=(SystemAction(type="update", resource={"resourceType": "ServiceRequest", "id": "1"}),),
    ).to_wire()
    action = body["cards"][0]["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert isinstance(action["resource"], dict)
    assert body["systemActions"] == [
        {"type": "update", "resource": {"resourceType": "ServiceRequest", "id": "1"}}
    ]
