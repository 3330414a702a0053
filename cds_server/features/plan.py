"""The compiled form of a mapping spec: plain frozen data the extractor walks per request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cds_server.features.aggregate import Aggregation
from cds_server.features.codesets import CodeSet
from cds_server.features.codesets import Coding
from cds_server.features.expressions import Derivation
from cds_server.features.fhirpath import FhirPath
from cds_server.features.fhirtime import Duration
from cds_server.features.gates import StatusGate
from cds_server.features.readings import ValueReader
from cds_server.features.units import UnitPlan


@dataclass(frozen=True, slots=True)
class MissingPolicy:
    """What to do when the data gives no value: impute a number and/or emit a 0/1 indicator."""

    impute: float | None = None
    flag: str | None = None


@dataclass(frozen=True, slots=True)
class SourceFeature:
    """A feature read from clinical resources (Observation, Condition, MedicationRequest...)."""

    name: str
    slot: int
    resource_type: str
    is_input: bool
    explicit_keys: frozenset[str] | None
    declared_keys: frozenset[str]
    gate: StatusGate
    window: Duration | None
    where: FhirPath | None
    reader: ValueReader
    unit: str | None
    value_range: tuple[float, float] | None
    aggregation: Aggregation
    missing: MissingPolicy
    #: The precomputed conversions of a quantity feature (None for coded or presence values).
    unit_plan: UnitPlan | None = None
    molar_mass: float | None = None


@dataclass(frozen=True, slots=True)
class PatientFeature:
    """A feature read from the Patient resource (age, sex, race...)."""

    name: str
    is_input: bool
    declared_keys: frozenset[str]
    reader: ValueReader
    unit: str | None
    value_range: tuple[float, float] | None
    missing: MissingPolicy


@dataclass(frozen=True, slots=True)
class DerivedFeature:
    """A feature computed from earlier features."""

    name: str
    is_input: bool
    derivation: Derivation
    unit: str | None
    value_range: tuple[float, float] | None
    missing: MissingPolicy


Feature = SourceFeature | PatientFeature | DerivedFeature


@dataclass(frozen=True, slots=True)
class Target:
    """A dispatch hit: feature ``slot`` reads this resource, or its components in ``components``."""

    slot: int
    components: CodeSet | None = None


@dataclass(frozen=True, slots=True)
class ResourceDispatch:
    """Code -> features for one resource type."""

    exact: Mapping[Coding, tuple[Target, ...]]
    prefixes: tuple[tuple[str, str, tuple[Target, ...]], ...]


@dataclass(frozen=True, slots=True)
class MappingPlan:
    features: tuple[Feature, ...]
    dispatch: Mapping[str, ResourceDispatch]
    source_count: int
    vector_names: tuple[str, ...]
    auxiliary_names: tuple[str, ...]
    context_keys: frozenset[str]
