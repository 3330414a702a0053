"""A declared, model-backed CDS service: mapping → model (with shadows and what-ifs) → cards.

The handler is the composition the pipeline calls: the features come from the pure mapping engine,
the numbers from the model runtime in one batched run (the patient's row plus one row per
modifiable factor), the cards from the pure card policy. It returns a
:class:`~cds_server.hooks.decisions.ServiceAnswer` so the decision record holds the inputs with
provenance, every output (shadow versions included) and the models used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from cds_server.features import CompiledMapping
from cds_server.features import FeatureVector
from cds_server.hooks.cards import HookResponse
from cds_server.hooks.decisions import ModelUse
from cds_server.hooks.decisions import ServiceAnswer
from cds_server.hooks.service import HookCall
from cds_server.inference import BatchPrediction
from cds_server.inference import ModelRegistry
from cds_server.services.policy import CompiledPolicy
from cds_server.services.policy import Scored
from cds_server.services.policy import build_cards
from cds_server.services.policy import environment

#: keys of the hook context handed to the mapping as extra sources (order-select / order-sign)
CONTEXT_SOURCES = ("draftOrders",)


class ModelServiceHandler:
    """The ``HookHandler`` of one declared service (shared by all its hooks)."""

    def __init__(self, policy: CompiledPolicy, mapping: CompiledMapping, models: ModelRegistry) -> None:
        self.policy = policy
        self.mapping = mapping
        self.models = models

    def __call__(self, call: HookCall) -> ServiceAnswer:
        features = self.extract(call)
        batch, what_if_labels = self._score(features)
        scored = _scored(batch, what_if_labels)
        patient_id = call.request.patient_id or ""
        cards = build_cards(self.policy, features, scored, patient_id=patient_id, now=call.now)
        notes = tuple(f"missing-optional:{key}" for key in sorted(call.unavailable))
        notes += tuple(f"not-applicable:{reason.split(' ', 1)[0]}" for reason in scored.inapplicable)
        return ServiceAnswer(
            response=HookResponse(cards=tuple(cards)),
            inputs=features.as_dict(),
            outputs=_outputs_record(batch),
            models=_model_uses(batch),
            notes=notes,
        )

    def extract(self, call: HookCall) -> FeatureVector:
        sources: dict[str, Any] = dict(call.prefetch)
        for key in CONTEXT_SOURCES:
            if key in call.request.context:
                sources[key] = call.request.context[key]
        return self.mapping.extract(sources, now=call.now, patient_id=call.request.patient_id)

    def _score(self, features: FeatureVector) -> tuple[BatchPrediction, list[str]]:
        """The patient's row and one row per applicable what-if, in one model run."""
        rows = [features.values]
        labels: list[str] = []
        env = environment(features, {})
        for what_if, condition in zip(self.policy.card.whatIf, self.policy.what_if_when, strict=True):
            if condition is not None and not condition(env):
                continue
            row = features.values.copy()
            for name, value in what_if.set.items():
                row[features.names.index(name)] = value
            rows.append(row)
            labels.append(what_if.label)
        batch = self.models.predict_batch(self.policy.model.id, np.stack(rows).astype(np.float32))
        return batch, labels


def _scored(batch: BatchPrediction, what_if_labels: list[str]) -> Scored:
    """Row 0 is the patient; each further row is the what-if of the same index in ``what_if_labels``."""
    outputs = {name: float(values[0]) for name, values in batch.outputs.items()}
    what_if: list[tuple[str, Mapping[str, float]]] = []
    usable = batch.usable
    for row, label in enumerate(what_if_labels, start=1):
        if usable[row]:
            what_if.append((label, {name: float(values[row]) for name, values in batch.outputs.items()}))
    return Scored(
        outputs=outputs,
        usable=bool(usable[0]),
        inapplicable=batch.inapplicable[0]
        or (("model output is not finite",) if batch.non_finite[0] else ()),
        what_if=tuple(what_if),
    )


def _model_uses(batch: BatchPrediction) -> tuple[ModelUse, ...]:
    uses = [ModelUse(batch.model_id, batch.version, batch.sha256, batch.provider, "active")]
    uses.extend(ModelUse(s.model_id, s.version, s.sha256, s.provider, "shadow") for s in batch.shadow)
    return tuple(uses)


def _outputs_record(batch: BatchPrediction) -> dict[str, Any]:
    def first_row(prediction: BatchPrediction) -> dict[str, float | None]:
        return {
            name: (float(values[0]) if np.isfinite(values[0]) else None)
            for name, values in prediction.outputs.items()
        }

    record: dict[str, Any] = {"active": {"version": batch.version, "outputs": first_row(batch)}}
    if batch.shadow or batch.shadow_errors:
        record["shadow"] = [{"version": s.version, "outputs": first_row(s)} for s in batch.shadow]
        if batch.shadow_errors:
            record["shadowErrors"] = dict(batch.shadow_errors)
    return record
