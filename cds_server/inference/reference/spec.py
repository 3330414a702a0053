"""What a reference model module hands to the card writer.

Each model module (pce, prevent, news2, diabetes) returns one :class:`ReferenceModel`: the ONNX
bytes plus everything the card says about them. :mod:`.card_writer` turns it into
``model-card.yaml``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any


@dataclass(frozen=True)
class InputDefinition:
    name: str
    description: str
    unit: str
    fhir: str
    allowed_values: tuple[float, ...] | None = None
    #: (min, max, reason): inclusive; ``None`` for an open side.
    applicable_range: tuple[float | None, float | None, str] | None = None


@dataclass(frozen=True)
class OutputDefinition:
    name: str
    description: str
    unit: str
    dtype: str
    value_range: tuple[float, float]


@dataclass(frozen=True)
class ThresholdDefinition:
    output: str
    operator: str
    value: float
    label: str
    meaning: str
    source: str


@dataclass(frozen=True)
class SelfTestDefinition:
    description: str
    source: str
    inputs: Mapping[str, float]
    expected: Mapping[str, float]
    tolerance: float


@dataclass(frozen=True)
class KeyMetric:
    """One CHAI KeyMetrics block."""

    goal: str
    results: tuple[tuple[str, str], ...]
    interpretation: str
    test_type: str
    testing_data: str
    validation_process: str


@dataclass(frozen=True)
class ReferencePopulation:
    source: str
    description: str
    method: str
    n_rows: int
    n_patients: int | None
    #: input name -> {"n", "quantiles"} | {"n", "proportion"} | {"unavailable"}
    distributions: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class ReferenceModel:
    id: str
    version: str
    name: str
    summary: str
    release_date: str
    model_type: str
    output_type: str
    keywords: tuple[str, ...]
    inputs: tuple[InputDefinition, ...]
    outputs: tuple[OutputDefinition, ...]
    thresholds: tuple[ThresholdDefinition, ...]
    self_tests: tuple[SelfTestDefinition, ...]
    model_bytes: bytes
    converter: Mapping[str, str]
    libraries: Mapping[str, str]
    build: Mapping[str, Any]
    population: ReferencePopulation
    performance: Mapping[str, Any]
    #: HTI-1 attribute ids ("1.i" ...) and CHAI-only keys; gaps are filled from governance.SHARED_NARRATIVE.
    narrative: Mapping[str, str]
    key_metrics: Mapping[str, KeyMetric]
    references: tuple[str, ...]
    bibtex: str
    deployment: Mapping[str, Any] = field(default_factory=dict)
