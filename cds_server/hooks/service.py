"""What a CDS service is: its discovery entry, its prefetch needs and the function that answers it.

A service is declared, never coded into routing (HAPI's ``@CdsService``/``registerService``). One
``id`` may serve several hooks: each ``(id, hook)`` pair is one :class:`CdsService`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any

from cds_server.hooks.cards import Card
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.decisions import ClientIdentity
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.request import HookRequest

SERVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-._]{0,127}$")


class OutcomePolicy(enum.Enum):
    """What to do when a client sends an OperationOutcome in place of a prefetch value.

    The CDS Hooks spec asks services to check for it; HAPI names the same choice FAIL/OMIT/OPERATION_OUTCOME.
    """

    REFETCH = "refetch"  # treat the key as absent: fetch it ourselves, 412 if required and impossible
    FAIL = "fail"  # the client could not get it, so neither can we: 412 if required, else unavailable
    PASS_THROUGH = "pass"  # noqa: S105 - not a password; hand the OperationOutcome to the service as the value


@dataclass(frozen=True)
class PrefetchSpec:
    """One prefetch key: its template and what missing data means to the service."""

    key: str
    template: str
    required: bool = True
    on_outcome: OutcomePolicy = OutcomePolicy.REFETCH

    @property
    def is_read(self) -> bool:
        """``Type/id`` (a read) rather than ``Type?params`` (a search, answered with a Bundle)."""
        return "?" not in self.template

    @property
    def is_search(self) -> bool:
        return not self.is_read

    @property
    def resource_type(self) -> str:
        return re.split(r"[/?]", self.template, maxsplit=1)[0]


@dataclass(frozen=True)
class HookCall:
    """What a service handler receives: the validated request and its completed prefetch."""

    service: CdsService
    request: HookRequest
    #: key → resource, searchset Bundle, OperationOutcome (``PASS`` policy) or ``None`` (no data)
    prefetch: Mapping[str, Any]
    #: optional keys the service must do without, with the reason (no PHI)
    unavailable: Mapping[str, str]
    #: when the request was received; the clinical "now" of this call
    now: datetime
    #: who called (services that keep state per client, such as asynchronous ones, scope it by this)
    client: ClientIdentity = field(default_factory=ClientIdentity.anonymous)
    #: ``fhirServer`` (normalised) when it passed the calling client's allow-list, else ``None``: the
    #: only server a job may later read with the server's own backend credentials for this call
    fhir_server: str | None = None


HookHandler = Callable[[HookCall], "ServiceAnswer | HookResponse | Sequence[Card]"]


@dataclass(frozen=True)
class CdsService:
    """A CDS service as discovery publishes it, plus its handler."""

    id: str
    hook: str
    description: str
    handler: HookHandler
    title: str | None = None
    prefetch: tuple[PrefetchSpec, ...] = ()
    usage_requirements: str | None = None
    extension: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not SERVICE_ID_RE.match(self.id):
            raise ValueError(f"service id {self.id!r} is not URL-safe")
        if not self.description:
            raise ValueError(f"service {self.id!r} needs a description (REQUIRED by discovery)")
        keys = [spec.key for spec in self.prefetch]
        if len(set(keys)) != len(keys):
            raise ValueError(f"service {self.id!r} declares a prefetch key twice")

    def discovery_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"hook": self.hook, "id": self.id, "description": self.description}
        if self.title:
            entry["title"] = self.title
        if self.prefetch:
            entry["prefetch"] = {spec.key: spec.template for spec in self.prefetch}
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        if self.extension:
            entry["extension"] = dict(self.extension)
        return entry
