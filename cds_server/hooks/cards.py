"""CDS Hooks response model: cards, suggestions, actions, links, system actions.

A card that breaks a spec rule cannot be built: every invariant of the CDS Hooks logical model
(cds-resp-1..7) and every REQUIRED field is checked at construction, so a service bug surfaces in
its own tests instead of as a card an EHR silently drops. :meth:`HookResponse.to_wire` omits
``null`` and empty fields as the spec asks (``cards`` itself stays, even when empty).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Annotated
from typing import Any
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import StringConstraints
from pydantic import model_validator

_MODEL = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

AbsoluteUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$", max_length=4096)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=65536)]


def new_uuid() -> str:
    return str(uuid.uuid4())


class Coding(BaseModel):
    """The CDS Hooks trimmed Coding: ``system`` and ``code`` REQUIRED, ``display`` as needed."""

    model_config = _MODEL
    system: NonEmpty
    code: NonEmpty
    display: str | None = None


class Source(BaseModel):
    model_config = _MODEL
    label: NonEmpty
    url: AbsoluteUrl | None = None
    icon: AbsoluteUrl | None = None
    topic: Coding | None = None


class Action(BaseModel):
    """One suggested change; ``description`` is required inside suggestions (cds-resp-5)."""

    model_config = _MODEL
    type: Literal["create", "update", "delete"]
    description: NonEmpty
    resource: dict[str, Any] | None = None
    resourceId: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")] | None = (
        None
    )

    @model_validator(mode="after")
    def _resource_matches_type(self) -> Action:
        if self.type == "delete":
            # cds-resp-2: a delete names its target with resourceId, not a resource
            if self.resourceId is None or self.resource is not None:
                raise ValueError("a delete action needs resourceId and no resource (cds-resp-2)")
        elif self.resource is None or not isinstance(self.resource.get("resourceType"), str):
            raise ValueError(f"a {self.type} action needs a FHIR resource with a resourceType")
        return self


class SystemAction(Action):
    """An action the client may apply without the user; ``description`` is optional here."""

    description: NonEmpty | None = None  # type: ignore[assignment]


class Suggestion(BaseModel):
    model_config = _MODEL
    label: NonEmpty
    uuid: str = Field(default_factory=new_uuid)
    isRecommended: bool | None = None
    actions: tuple[Action, ...] = ()
    actionSelectionBehavior: Literal["all", "any", "at-most-one"] | None = None  # cds-resp-7


class Link(BaseModel):
    model_config = _MODEL
    label: NonEmpty
    url: AbsoluteUrl
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Link:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only allowed on smart links (cds-resp-3)")
        return self


class Card(BaseModel):
    model_config = _MODEL
    uuid: str = Field(default_factory=new_uuid)
    summary: Annotated[str, StringConstraints(min_length=1, max_length=139)]
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: tuple[Suggestion, ...] = ()
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()
    extension: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _invariants(self) -> Card:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("cards with suggestions need selectionBehavior (cds-resp-6)")
        if (
            self.selectionBehavior == "at-most-one"
            and sum(bool(s.isRecommended) for s in self.suggestions) > 1
        ):
            raise ValueError("at-most-one cards may recommend one suggestion at most (cds-resp-1)")
        if any(reason.display is None for reason in self.overrideReasons):
            raise ValueError("every override reason needs a display (cds-resp-4)")
        uuids = [s.uuid for s in self.suggestions]
        if len(set(uuids)) != len(uuids):
            raise ValueError("suggestion uuids must be unique")
        return self


class HookResponse(BaseModel):
    model_config = _MODEL
    cards: tuple[Card, ...] = ()
    systemActions: tuple[SystemAction, ...] = ()

    @model_validator(mode="after")
    def _unique_card_uuids(self) -> HookResponse:
        uuids = [card.uuid for card in self.cards]
        if len(set(uuids)) != len(uuids):
            raise ValueError("card uuids must be unique within a response")
        return self

    def with_links_to(self, hosts: Collection[str]) -> HookResponse:
        """This response without the card links whose host is not in ``hosts`` (``*.`` matches subdomains).

        EHRs drop links to hosts they have not registered (Epic hides them, Oracle strips them), so a
        link a client did not allow would only be noise; dropping it here keeps what is stored equal
        to what the client shows.
        """
        if not any(card.links for card in self.cards):
            return self
        cards = tuple(
            card.model_copy(update={"links": tuple(x for x in card.links if link_host_allowed(x.url, hosts))})
            for card in self.cards
        )
        return self.model_copy(update={"cards": cards})

    def to_wire(self) -> dict[str, Any]:
        """The JSON body: no ``null``, ``""``, ``[]`` or ``{}`` except the ``cards`` array itself."""
        body: dict[str, Any] = _prune(self.model_dump(mode="json", exclude_none=True))
        body["cards"] = body.get("cards", [])
        return body


def link_host_allowed(url: str, hosts: Collection[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if not host:
        return False
    return any(host == name or (name.startswith("*.") and host.endswith(name[1:])) for name in hosts)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {key: _prune(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item not in ("", [], {}, None)}
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value
