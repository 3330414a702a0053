"""The service declaration file, ``cds_services/<id>.yaml``: hooks, mapping, model and card policy.

A declaration is data only. :mod:`cds_server.services.loader` checks it against the mapping and the
model card it names (so a typo fails start-up with the file and field in the message), and
:mod:`cds_server.services.model_service` turns it into :class:`~cds_server.hooks.service.CdsService`
objects.
"""

from __future__ import annotations

from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

_DECLARED = ConfigDict(extra="forbid", frozen=True)

Indicator = Literal["info", "warning", "critical"]


class Band(BaseModel):
    """How one risk band of the model card's thresholds shows: its indicator and words."""

    model_config = _DECLARED
    indicator: Indicator
    label: str | None = Field(
        default=None, description="Shown in the summary; the threshold's label by default."
    )


class ActionTemplate(BaseModel):
    """A suggested ``create`` action; ``{{patientId}}``-style placeholders are filled per call."""

    model_config = _DECLARED
    type: Literal["create"] = "create"
    description: str = Field(min_length=1)
    resource: dict[str, Any]


class SuggestionTemplate(BaseModel):
    model_config = _DECLARED
    label: str = Field(min_length=1)
    isRecommended: bool | None = None
    action: ActionTemplate


class WhatIf(BaseModel):
    """A modifiable factor: the risk recomputed with some inputs changed (one batched model run)."""

    model_config = _DECLARED
    label: str = Field(min_length=1, description="Reads after 'with': e.g. 'systolic BP 120 mmHg'.")
    set: dict[str, float] = Field(min_length=1)
    when: str | None = Field(
        default=None, description="Only when this condition holds (e.g. the patient smokes)."
    )


class CardPolicy(BaseModel):
    """Which card a prediction becomes."""

    model_config = _DECLARED
    type: str = Field(
        pattern=r"^[A-Za-z0-9\-]{1,100}$", description="Static source.topic code of this card type."
    )
    title: str = Field(min_length=1, description="Name of the result, e.g. '10-year ASCVD risk'.")
    output: str = Field(description="The model output the card is about.")
    format: Literal["percent", "score"] = "percent"
    summary: str = Field(
        description="Summary template: {value}, {band}, {title} and any feature or output name in braces."
    )
    when: str | None = Field(default=None, description="Show the card only when this condition holds.")
    indicator: Indicator = "info"
    bands: dict[str, Band] = Field(
        default_factory=dict,
        description="Model-card threshold label → how that band shows ('below': under every threshold).",
    )
    whatIf: tuple[WhatIf, ...] = ()
    suggestions: tuple[SuggestionTemplate, ...] = ()
    notScored: Literal["card", "silent"] = Field(
        default="card",
        description="No score possible (data missing, outside the limits): a card saying why, or none.",
    )


class AsyncSpec(BaseModel):
    """An asynchronous service: the hook starts a job and answers at once (``async:`` in the file).

    The card shows the stored result when one is fresh enough for this patient and client, and
    otherwise says the analysis is running, with a link to the result page.
    """

    model_config = _DECLARED
    job: Literal["risk-trajectory"] = Field(description="The job kind the hook starts.")
    freshFor: str = Field(
        default="P1D",
        pattern=r"^P",
        description="ISO 8601 duration a result stays fresh (and a failure stays shown).",
    )
    lookBack: str = Field(default="P10Y", pattern=r"^P", description="How far back the trend reaches.")
    maxPoints: int = Field(default=60, ge=2, le=500, description="Most time points on the trend.")


class ServiceDeclaration(BaseModel):
    model_config = _DECLARED
    async_: AsyncSpec | None = Field(default=None, alias="async")
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9\-._]{0,127}$")
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    hooks: tuple[str, ...] = Field(min_length=1)
    mapping: str
    model: str
    usageRequirements: str | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="Display names of features on the card.")
    optionalPrefetch: tuple[str, ...] = Field(
        default=(),
        description="Prefetch keys of the mapping the service can do without (412 only for the others).",
    )
    card: CardPolicy
