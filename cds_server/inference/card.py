"""The model card: what a model computes, from what, for whom, and how far it can be trusted.

A card is ``model-card.yaml`` beside ``model.onnx``. The JSON Schema in
``model_artifacts/schema/model-card.schema.json`` checks its shape; :func:`parse_card` then checks
what a schema cannot (names that must agree across sections) and returns a typed, immutable
:class:`ModelCard`. The runtime reads only the typed fields; everything else (governance text, the
CHAI sections, reference distributions) is kept verbatim and served by :meth:`ModelCard.as_dict`.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from cds_server.inference.hti1 import PREDICTIVE_DSI_ATTRIBUTES


class CardError(ValueError):
    """The card is well-formed YAML but contradicts itself."""


@dataclass(frozen=True, slots=True)
class ApplicableRange:
    """Inclusive bounds outside which the model must not give a score, and why."""

    min: float | None
    max: float | None
    reason: str

    def contains(self, value: float) -> bool:
        if self.min is not None and value < self.min:
            return False
        return not (self.max is not None and value > self.max)

    def describe(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{_number(self.min)} to {_number(self.max)}"
        if self.min is not None:
            return f"≥ {_number(self.min)}"
        return f"≤ {_number(self.max)}"


@dataclass(frozen=True, slots=True)
class InputSpec:
    name: str
    description: str
    unit: str
    allowed_values: tuple[float, ...] | None
    applicable_range: ApplicableRange | None


@dataclass(frozen=True, slots=True)
class OutputSpec:
    name: str
    description: str
    unit: str
    dtype: str


@dataclass(frozen=True, slots=True)
class InputTensor:
    """The one input tensor: ``(batch, width)`` of ``dtype``, columns in the order of ``inputs``."""

    name: str
    dtype: str
    width: int


@dataclass(frozen=True, slots=True)
class Threshold:
    output: str
    operator: str
    value: float
    label: str
    meaning: str


@dataclass(frozen=True, slots=True)
class SelfTest:
    """A known input/output pair the runtime replays at load time (the warm-up run)."""

    description: str
    inputs: Mapping[str, float]
    expected: Mapping[str, float]
    tolerance: float


@dataclass(frozen=True, slots=True)
class SourceAttribute:
    """One HTI-1 source attribute, ready to render."""

    id: str
    citation: str
    category: str
    title: str
    value: str


@dataclass(frozen=True)
class ModelCard:
    id: str
    version: str
    name: str
    summary: str
    sha256: str
    artifact_file: str
    input_tensor: InputTensor
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    thresholds: tuple[Threshold, ...]
    self_tests: tuple[SelfTest, ...]
    _document: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.outputs)

    def as_dict(self) -> dict[str, Any]:
        """The whole card as parsed from YAML (a deep copy: callers may not change ours)."""
        return copy.deepcopy(dict(self._document))

    def source_attributes(self) -> tuple[SourceAttribute, ...]:
        """The 31 HTI-1 Predictive DSI source attributes in regulatory order."""
        values: Mapping[str, str] = self._document["source_attributes"]
        return tuple(
            SourceAttribute(
                id=definition.id,
                citation=definition.citation,
                category=definition.category,
                title=definition.title,
                value=values[definition.id],
            )
            for definition in PREDICTIVE_DSI_ATTRIBUTES
        )


def parse_card(document: Mapping[str, Any]) -> ModelCard:
    """Build the typed card from a schema-valid document, checking cross-references.

    :raise CardError: names disagree between sections (inputs vs tensor width, self-tests or
        thresholds naming unknown inputs/outputs, duplicate names).
    """
    artifact = document["artifact"]
    tensor = document["input_tensor"]
    inputs = tuple(_input_spec(raw) for raw in document["inputs"])
    outputs = tuple(
        OutputSpec(raw["name"], raw["description"], raw["unit"], raw["dtype"]) for raw in document["outputs"]
    )
    card = ModelCard(
        id=document["id"],
        version=document["version"],
        name=document["name"],
        summary=document["summary"],
        sha256=artifact["sha256"],
        artifact_file=artifact["file"],
        input_tensor=InputTensor(tensor["name"], tensor["dtype"], int(tensor["shape"][1])),
        inputs=inputs,
        outputs=outputs,
        thresholds=tuple(
            Threshold(raw["output"], raw["operator"], float(raw["value"]), raw["label"], raw["meaning"])
            for raw in document.get("thresholds", ())
        ),
        self_tests=tuple(
            SelfTest(
                raw["description"],
                {name: float(value) for name, value in raw["inputs"].items()},
                {name: float(value) for name, value in raw["expected"].items()},
                float(raw["tolerance"]),
            )
            for raw in document["self_test"]
        ),
        _document=copy.deepcopy(dict(document)),
    )
    _check_consistency(card)
    return card


def _input_spec(raw: Mapping[str, Any]) -> InputSpec:
    allowed = raw.get("allowed_values")
    bounds = raw.get("applicable_range")
    return InputSpec(
        name=raw["name"],
        description=raw["description"],
        unit=raw["unit"],
        allowed_values=tuple(float(value) for value in allowed) if allowed is not None else None,
        applicable_range=(
            ApplicableRange(
                _optional_float(bounds.get("min")), _optional_float(bounds.get("max")), bounds["reason"]
            )
            if bounds is not None
            else None
        ),
    )


def _check_consistency(card: ModelCard) -> None:
    names = card.input_names
    if len(set(names)) != len(names):
        raise CardError("input names are not unique")
    if len(set(card.output_names)) != len(card.output_names):
        raise CardError("output names are not unique")
    if card.input_tensor.width != len(names):
        raise CardError(f"input_tensor width {card.input_tensor.width} but {len(names)} inputs are described")
    for test in card.self_tests:
        if set(test.inputs) != set(names):
            raise CardError(f"self_test {test.description!r} must give every input exactly once")
        unknown = set(test.expected) - set(card.output_names)
        if unknown:
            raise CardError(f"self_test {test.description!r} expects unknown outputs {sorted(unknown)}")
    for threshold in card.thresholds:
        if threshold.output not in card.output_names:
            raise CardError(f"threshold {threshold.label!r} refers to unknown output {threshold.output!r}")


def _optional_float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def _number(value: float | None) -> str:
    assert value is not None
    return str(int(value)) if math.isfinite(value) and value == int(value) else f"{value:g}"
