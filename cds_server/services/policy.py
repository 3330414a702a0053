"""Card policy: a model's prediction plus its inputs become a CDS Hooks card (pure, no I/O).

Every card explains itself — the inputs with values, units and dates, what was missing or assumed,
the model and version, and the modifiable factors — and carries the numbers under
``extension["cds_server.prediction"]`` so integrators need not parse text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_server.features import FeatureVector
from cds_server.hooks.cards import Action
from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Coding
from cds_server.hooks.cards import Link
from cds_server.hooks.cards import Source
from cds_server.hooks.cards import Suggestion
from cds_server.hooks.override_reasons import RISK_CARD_OVERRIDE_REASONS
from cds_server.inference import ModelCard
from cds_server.services.conditions import Condition
from cds_server.services.declaration import CardPolicy
from cds_server.services.declaration import ServiceDeclaration
from cds_server.services.declaration import SuggestionTemplate
from cds_server.services.explain import format_number
from cds_server.services.explain import inputs_table
from cds_server.services.explain import missing_sentence

PREDICTION_EXTENSION = "cds_server.prediction"
CARD_TYPE_SYSTEM = "urn:cds-server:card-type"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\|(percent|score))?\}")


@dataclass(frozen=True)
class CompiledPolicy:
    """A declaration's card policy with its conditions compiled (done once, at start-up)."""

    declaration: ServiceDeclaration
    model: ModelCard
    show_when: Condition | None
    what_if_when: tuple[Condition | None, ...]
    model_page_url: str

    @property
    def card(self) -> CardPolicy:
        return self.declaration.card


@dataclass(frozen=True)
class Scored:
    """The model's result for this call; ``what_if`` holds (label, outputs) for the factors that apply."""

    outputs: Mapping[str, float]
    usable: bool
    inapplicable: tuple[str, ...]
    what_if: tuple[tuple[str, Mapping[str, float]], ...] = ()


def environment(features: FeatureVector, outputs: Mapping[str, float]) -> dict[str, float]:
    """Names a condition or a summary may use: every feature (vector and auxiliary) and output."""
    env = {name: provenance.value for name, provenance in features.provenance.items()}
    env.update(outputs)
    return env


def build_cards(
    policy: CompiledPolicy, features: FeatureVector, scored: Scored, *, patient_id: str, now: datetime
) -> list[Card]:
    """The cards for one call: a result card, a "not scored" card, or none."""
    card = policy.card
    if not scored.usable:
        return [_not_scored_card(policy, features, scored)] if card.notScored == "card" else []
    env = environment(features, scored.outputs)
    if policy.show_when is not None and not policy.show_when(env):
        return []
    value = scored.outputs[card.output]
    band_label, indicator, meaning = _band(policy, scored.outputs)
    summary = _render(card.summary, env, value=_format(card.format, value), band=band_label, title=card.title)
    return [
        Card(
            summary=summary[:139],
            detail=_detail(policy, features, scored, value, meaning),
            indicator=indicator,
            source=_source(policy),
            suggestions=tuple(_suggestion(template, patient_id, now) for template in card.suggestions),
            selectionBehavior="any" if card.suggestions else None,
            overrideReasons=RISK_CARD_OVERRIDE_REASONS,
            links=(
                Link(label="Model card and source attributes", url=policy.model_page_url, type="absolute"),
            ),
            extension={PREDICTION_EXTENSION: _prediction_extension(policy, scored.outputs)},
        )
    ]


def band_of(policy: CompiledPolicy, outputs: Mapping[str, float]) -> tuple[str, str, str | None]:
    """The band ``outputs`` fall in: its label, the card indicator and the model card's meaning."""
    return _band(policy, outputs)


def _band(policy: CompiledPolicy, outputs: Mapping[str, float]) -> tuple[str, str, str | None]:
    """The band the outputs fall in: its label, the card indicator and the model card's meaning.

    A band is a model-card threshold label (``"below"`` means no threshold reached). The
    declaration lists bands in increasing severity, so the last listed band that is reached wins;
    with no bands declared, the highest threshold reached on the card's output does.
    """
    card = policy.card
    reached = {
        threshold.label: threshold
        for threshold in policy.model.thresholds
        if threshold.output in outputs
        and _hit(threshold.operator, outputs[threshold.output], threshold.value)
    }
    if card.bands:
        label = "below"
        for name in card.bands:
            if name in reached:
                label = name
        band = card.bands.get(label)
        meaning = reached[label].meaning if label in reached else None
        return (band.label or label) if band else label, band.indicator if band else card.indicator, meaning
    own = [t for t in reached.values() if t.output == card.output]
    if not own:
        return "below", card.indicator, None
    top = max(own, key=lambda t: t.value)
    return top.label, card.indicator, top.meaning


def _hit(operator: str, value: float, threshold: float) -> bool:
    return value >= threshold if operator == ">=" else value > threshold


def _format(kind: str, value: float) -> str:
    if kind == "percent":
        return f"{value * 100:.1f} %"
    return format_number(value)


def _render(template: str, env: Mapping[str, float], **named: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name, kind = match.group(1), match.group(2)
        if name in named:
            return named[name]
        if name not in env:
            return match.group(0)
        return _format(kind, env[name]) if kind else format_number(env[name])

    return _PLACEHOLDER.sub(replace, template)


def _detail(
    policy: CompiledPolicy, features: FeatureVector, scored: Scored, value: float, meaning: str | None
) -> str:
    card, model, labels = policy.card, policy.model, policy.declaration.labels
    lines = [f"**{card.title}: {_format(card.format, value)}**" + (f" — {meaning}" if meaning else "")]
    if scored.what_if:
        changes = "; ".join(
            f"with {label}: {_format(card.format, outputs[card.output])}" for label, outputs in scored.what_if
        )
        lines.append(f"Modifiable factors — {changes}.")
    lines.append(inputs_table(features, features.names, labels))
    missing = missing_sentence(features, features.names, labels)
    if missing:
        lines.append(missing)
    as_of = features.reference_time.date().isoformat()
    lines.append(f"{_model_line(model)}; data as of {as_of}.")
    return "\n\n".join(lines)


def _model_line(model: ModelCard) -> str:
    # the model's name may hold parentheses of its own: "10-year ASCVD risk (2013 ACC/AHA PCE)"
    return f"Model: {model.name}, `{model.id}` {model.version}"


def _not_scored_card(policy: CompiledPolicy, features: FeatureVector, scored: Scored) -> Card:
    card, labels = policy.card, policy.declaration.labels
    reasons = [_reason_text(reason, labels, policy.model) for reason in scored.inapplicable] or [
        "the model returned no finite result"
    ]
    detail = "\n\n".join(
        [
            f"No {card.title} is given because " + "; ".join(reasons) + ".",
            inputs_table(features, features.names, labels),
            f"{_model_line(policy.model)}.",
        ]
    )
    return Card(
        summary=f"{card.title} not calculated: {_short_reason(scored.inapplicable, labels)}"[:139],
        detail=detail,
        indicator="info",
        source=_source(policy),
        overrideReasons=RISK_CARD_OVERRIDE_REASONS,
        links=(Link(label="Model card and source attributes", url=policy.model_page_url, type="absolute"),),
        extension={
            PREDICTION_EXTENSION: {"model": policy.model.id, "version": policy.model.version, "outputs": {}}
        },
    )


def _reason_text(reason: str, labels: Mapping[str, str], model: ModelCard) -> str:
    # the runtime's reasons start with the input name; show the clinician's word for it
    name = reason.split(" ", 1)[0]
    if name not in model.input_names:
        return reason
    label = labels.get(name, name)
    return f"{label} is not recorded" if " is missing" in reason else reason.replace(name, label, 1)


def _short_reason(inapplicable: Sequence[str], labels: Mapping[str, str]) -> str:
    missing = [labels.get(r.split(" ", 1)[0], r.split(" ", 1)[0]) for r in inapplicable if "missing" in r]
    if missing:
        return "no recent " + ", ".join(missing[:3]) + (" and more" if len(missing) > 3 else "")
    outside = [labels.get(r.split(" ", 1)[0], r.split(" ", 1)[0]) for r in inapplicable]
    return "outside the model's limits (" + ", ".join(outside[:3]) + ")" if outside else "no finite result"


def _source(policy: CompiledPolicy) -> Source:
    card = policy.card
    return Source(
        label=policy.declaration.title,
        url=policy.model_page_url,
        topic=Coding(system=CARD_TYPE_SYSTEM, code=card.type, display=card.title),
    )


def _suggestion(template: SuggestionTemplate, patient_id: str, now: datetime) -> Suggestion:
    text = json.dumps(template.action.resource)
    text = text.replace("{{patientId}}", patient_id).replace("{{today}}", now.date().isoformat())
    resource: dict[str, Any] = json.loads(text)
    return Suggestion(
        label=template.label,
        isRecommended=template.isRecommended,
        actions=(
            Action(type=template.action.type, description=template.action.description, resource=resource),
        ),
    )


def _prediction_extension(policy: CompiledPolicy, outputs: Mapping[str, float]) -> dict[str, Any]:
    return {
        "model": policy.model.id,
        "version": policy.model.version,
        "outputs": {name: float(value) for name, value in outputs.items()},
    }
