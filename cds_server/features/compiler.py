"""Compile a schema-valid mapping spec (a dict) into a :class:`CompiledMapping`.

The JSON Schema has already checked the shape; this module checks meaning (code sets exist,
derived features only use earlier names, units are UCUM, every feature can be fed by some
prefetch key...) and precomputes everything the request path needs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from collections.abc import Set
from dataclasses import dataclass
from typing import Any
from typing import NoReturn

from cds_server.features.aggregate import Aggregation
from cds_server.features.codesets import CodeSet
from cds_server.features.codesets import Coding
from cds_server.features.codesets import compile_code_set
from cds_server.features.errors import MappingSpecError
from cds_server.features.expressions import compile_expression
from cds_server.features.fhirpath import compile_fhirpath
from cds_server.features.fhirtime import Duration
from cds_server.features.fhirtime import parse_duration
from cds_server.features.gates import DEFAULT_STATUSES
from cds_server.features.gates import make_gate
from cds_server.features.mapping import CompiledMapping
from cds_server.features.plan import DerivedFeature
from cds_server.features.plan import Feature
from cds_server.features.plan import MappingPlan
from cds_server.features.plan import MissingPolicy
from cds_server.features.plan import PatientFeature
from cds_server.features.plan import ResourceDispatch
from cds_server.features.plan import SourceFeature
from cds_server.features.plan import Target
from cds_server.features.prefetch_templates import DEFAULT_KEYS
from cds_server.features.prefetch_templates import PrefetchTemplate
from cds_server.features.prefetch_templates import TypeNeeds
from cds_server.features.prefetch_templates import expand_and_check
from cds_server.features.prefetch_templates import generate
from cds_server.features.readings import ValueReader
from cds_server.features.units import UnitConverter
from cds_server.features.units import UnitPlan
from cds_server.features.values import US_CORE_ETHNICITY
from cds_server.features.values import US_CORE_RACE
from cds_server.features.values import age_reader
from cds_server.features.values import coded_in_reader
from cds_server.features.values import coded_map_reader
from cds_server.features.values import fhirpath_reader
from cds_server.features.values import gender_reader
from cds_server.features.values import presence_reader
from cds_server.features.values import quantity_reader
from cds_server.features.values import us_core_category_reader

_NOT_FOR_DERIVED = (
    "from",
    "code",
    "components",
    "keys",
    "status",
    "intent",
    "window",
    "agg",
    "value",
    "where",
)
_NOT_FOR_PATIENT = ("code", "components", "keys", "status", "intent", "window", "agg", "where")
_PATIENT_VALUES = ("age", "gender", "race", "ethnicity")


@dataclass(frozen=True, slots=True)
class LoadContext:
    """What every spec compiles against: pinned value sets, unit synonyms, the UCUM converter."""

    valuesets: Mapping[str, frozenset[Coding]]
    synonyms: Mapping[str, str]
    converter: UnitConverter


def compile_mapping(raw: Mapping[str, Any], *, file: str, context: LoadContext) -> CompiledMapping:
    """Compile one spec; raises :class:`MappingSpecError` naming the file, feature and problem."""

    def fail(problem: str, feature: str | None = None) -> NoReturn:
        raise MappingSpecError(file, problem, feature=feature)

    code_sets: dict[str, CodeSet] = {}
    for set_name, set_raw in raw["codeSets"].items():
        try:
            code_sets[set_name] = compile_code_set(set_name, set_raw, context.valuesets)
        except ValueError as exc:
            fail(f"codeSets: {exc}")
    context_keys = frozenset(raw.get("contextInputs", []))
    raw_features: list[dict[str, Any]] = raw["features"]
    try:
        templates = _templates(raw, raw_features, code_sets)
    except ValueError as exc:
        fail(f"prefetch: {exc}")
    clash = context_keys & templates.keys()
    if clash:
        fail(f"contextInputs {sorted(clash)} reuse prefetch key names")
    declared: dict[str, frozenset[str]] = defaultdict(frozenset)
    for key, template in templates.items():
        declared[template.resource_type] = declared[template.resource_type] | {key}

    builder = _FeatureBuilder(code_sets, declared, templates.keys() | context_keys, context)
    features: list[Feature] = []
    names: set[str] = set()
    for raw_feature in raw_features:
        name = raw_feature["name"]
        flag = _missing_policy(raw_feature.get("missing")).flag
        for new_name in (name, flag):
            if new_name is not None and new_name in names:
                fail(f"name {new_name!r} is used twice", name)
        try:
            features.append(builder.build(raw_feature, names))
        except (ValueError, KeyError) as exc:
            fail(str(exc.args[0]) if exc.args else type(exc).__name__, name)
        names.update(n for n in (name, flag) if n is not None)

    vector_names, auxiliary_names = _output_order(features)
    if not vector_names:
        fail("every feature is auxiliary (input: false); the model would get an empty vector")
    model_input = raw["model"]["input"]
    plan = MappingPlan(
        features=tuple(features),
        dispatch=builder.dispatch(),
        source_count=builder.slots,
        vector_names=vector_names,
        auxiliary_names=auxiliary_names,
        context_keys=context_keys,
    )
    return CompiledMapping(
        name=raw["id"],
        version=raw["version"],
        title=raw.get("title", raw["id"]),
        input_name=model_input["name"],
        input_dtype=model_input.get("dtype", "float32"),
        plan=plan,
        templates=templates,
        source=file,
    )


def _templates(
    raw: Mapping[str, Any], raw_features: list[dict[str, Any]], code_sets: Mapping[str, CodeSet]
) -> dict[str, PrefetchTemplate]:
    if "prefetch" in raw:
        templates: dict[str, PrefetchTemplate] = {}
        for key, entry in raw["prefetch"].items():
            query, required = (
                (entry, True) if isinstance(entry, str) else (entry["query"], entry.get("required", True))
            )
            checked = expand_and_check(query, code_sets)
            templates[key] = PrefetchTemplate(checked.query, required, checked.resource_type)
        return templates
    needs: dict[str, tuple[list[CodeSet], set[str]]] = {}
    for feature in raw_features:
        resource_type = feature.get("from")
        if resource_type is None:
            continue
        keys = feature.get("keys")
        if keys is not None and DEFAULT_KEYS[resource_type] not in keys:
            continue  # reads only context inputs or named keys: nothing to fetch for it
        sets, statuses = needs.setdefault(resource_type, ([], set()))
        set_names = (feature.get("code"), feature.get("components"))
        sets.extend(code_sets[name] for name in set_names if isinstance(name, str) and name in code_sets)
        if resource_type != "Patient":
            statuses.update(feature.get("status") or DEFAULT_STATUSES[resource_type])
    return generate(
        {
            resource_type: TypeNeeds(tuple(sets), frozenset(statuses) if statuses else None)
            for resource_type, (sets, statuses) in needs.items()
        }
    )


def _missing_policy(raw: object) -> MissingPolicy:
    if raw is None or raw == "nan":
        return MissingPolicy()
    if isinstance(raw, int | float):
        return MissingPolicy(impute=float(raw))
    assert isinstance(raw, dict)
    impute = raw.get("impute")
    return MissingPolicy(impute=float(impute) if impute is not None else None, flag=raw.get("flag"))


def _window(raw: str | None) -> Duration | None:
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ValueError(f"window: {exc}") from exc


def _value_range(raw: list[float] | None) -> tuple[float, float] | None:
    if raw is None:
        return None
    low, high = float(raw[0]), float(raw[1])
    if low > high:
        raise ValueError(f"range [{low:g}, {high:g}] is empty")
    return low, high


def _forbid(raw: Mapping[str, Any], keys: tuple[str, ...], why: str) -> None:
    present = [key for key in keys if key in raw]
    if present:
        raise ValueError(f"{', '.join(present)} cannot be used {why}")


def _output_order(features: list[Feature]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    vector: list[str] = []
    auxiliary: list[str] = []
    for feature in features:
        bucket = vector if feature.is_input else auxiliary
        bucket.append(feature.name)
        if feature.missing.flag is not None:
            bucket.append(feature.missing.flag)
    return tuple(vector), tuple(auxiliary)


class _FeatureBuilder:
    def __init__(
        self,
        code_sets: Mapping[str, CodeSet],
        declared: Mapping[str, frozenset[str]],
        known_keys: Set[str],
        context: LoadContext,
    ) -> None:
        self._code_sets = code_sets
        self._declared = declared
        self._known_keys = known_keys
        self._context = context
        self._exact: dict[str, dict[Coding, list[Target]]] = defaultdict(lambda: defaultdict(list))
        self._prefixes: dict[str, list[tuple[str, str, tuple[Target, ...]]]] = defaultdict(list)
        self.slots = 0

    def build(self, raw: Mapping[str, Any], earlier_names: Set[str]) -> Feature:
        unit = raw.get("unit")
        if unit is not None:
            self._context.converter.validate(unit)
        common = {
            "name": raw["name"],
            "is_input": raw.get("input", True),
            "unit": unit,
            "value_range": _value_range(raw.get("range")),
            "missing": _missing_policy(raw.get("missing")),
        }
        if "derive" in raw:
            _forbid(raw, (*_NOT_FOR_DERIVED, "molarMass", "acceptUnits"), "with derive")
            return DerivedFeature(derivation=compile_expression(raw["derive"], earlier_names), **common)
        if raw["from"] == "Patient":
            return self._patient(raw, common)
        return self._source(raw, common)

    def _patient(self, raw: Mapping[str, Any], common: dict[str, Any]) -> PatientFeature:
        _forbid(raw, (*_NOT_FOR_PATIENT, "molarMass", "acceptUnits"), "with from: Patient")
        value = raw.get("value")
        if value is None:
            raise ValueError("a Patient feature needs value: age, gender, race, ethnicity or fhirpath")
        reader: ValueReader
        if value == "age":
            reader = age_reader
        elif isinstance(value, dict) and "gender" in value:
            reader = gender_reader({gender: float(number) for gender, number in value["gender"].items()})
        elif isinstance(value, dict) and "race" in value:
            reader = us_core_category_reader(US_CORE_RACE, self._code_set(value["race"]))
        elif isinstance(value, dict) and "ethnicity" in value:
            reader = us_core_category_reader(US_CORE_ETHNICITY, self._code_set(value["ethnicity"]))
        elif isinstance(value, dict) and "fhirpath" in value:
            reader = fhirpath_reader(compile_fhirpath(value["fhirpath"]))
        else:
            raise ValueError(f"value {value!r} does not apply to a Patient")
        declared = self._declared.get("Patient", frozenset())
        if not declared:
            raise ValueError("no prefetch key reads the Patient")
        return PatientFeature(declared_keys=declared, reader=reader, **common)

    def _source(self, raw: Mapping[str, Any], common: dict[str, Any]) -> SourceFeature:
        resource_type = raw["from"]
        if "code" not in raw:
            raise ValueError(f"a {resource_type} feature needs 'code' (a code set name)")
        codes = self._code_set(raw["code"])
        panels = None
        if "components" in raw:
            if resource_type != "Observation":
                raise ValueError("components only apply to Observation")
            panels = self._code_set(raw["components"])
        explicit = raw.get("keys")
        if explicit is not None:
            unknown = sorted(set(explicit) - self._known_keys)
            if unknown:
                raise ValueError(f"keys {unknown} are neither prefetch keys nor contextInputs")
        declared = self._declared.get(resource_type, frozenset())
        if explicit is None and not declared:
            raise ValueError(f"no prefetch key searches {resource_type}")
        value = raw.get("value", "quantity" if resource_type == "Observation" else "presence")
        reader, numeric, unit_plan = self._reader(
            raw, value, resource_type, panels is not None, common["unit"]
        )
        aggregation = Aggregation(raw.get("agg", "latest" if numeric else "exists"))
        if not numeric and not aggregation.counts_absence:
            raise ValueError(
                f"agg {aggregation.value} needs a numeric value; presence only supports exists or count"
            )
        slot = self.slots
        self.slots += 1
        self._register(resource_type, codes, panels, slot)
        return SourceFeature(
            slot=slot,
            resource_type=resource_type,
            explicit_keys=frozenset(explicit) if explicit is not None else None,
            declared_keys=declared,
            gate=make_gate(resource_type, raw.get("status"), raw.get("intent")),
            window=_window(raw.get("window")),
            where=compile_fhirpath(raw["where"]) if "where" in raw else None,
            reader=reader,
            aggregation=aggregation,
            unit_plan=unit_plan,
            molar_mass=raw.get("molarMass"),
            **common,
        )

    def _reader(
        self, raw: Mapping[str, Any], value: Any, resource_type: str, from_components: bool, unit: str | None
    ) -> tuple[ValueReader, bool, UnitPlan | None]:
        """``(reader, produces a measured number, unit conversions)``."""
        if value != "quantity":
            _forbid(raw, ("molarMass", "acceptUnits"), f"with value {value!r}")
        if value == "quantity":
            if resource_type != "Observation":
                raise ValueError("value: quantity only applies to Observation")
            if unit is None:
                raise ValueError("a quantity feature needs 'unit' (the target UCUM unit)")
            plan = self._context.converter.plan(
                unit,
                molar_mass=raw.get("molarMass"),
                extra_sources=raw.get("acceptUnits", []),
                synonyms=self._context.synonyms,
            )
            for extra in raw.get("acceptUnits", []):
                if extra not in plan.conversions:
                    raise ValueError(f"acceptUnits: {extra!r} cannot be converted to {unit}")
            return quantity_reader(plan), True, plan
        if value == "presence":
            return presence_reader, False, None
        if not isinstance(value, dict) or value.keys() & set(_PATIENT_VALUES):
            raise ValueError(f"value {value!r} only applies to Patient features")
        if "fhirpath" in value:
            if from_components:
                raise ValueError(
                    "value: {fhirpath} is evaluated on the resource, so it cannot read components"
                )
            return fhirpath_reader(compile_fhirpath(value["fhirpath"])), True, None
        if resource_type != "Observation":
            raise ValueError("coded values (valueIn, valueMap) only apply to Observation")
        if "valueIn" in value:
            return coded_in_reader(self._code_set(value["valueIn"])), True, None
        mapping = [(self._code_set(name), float(number)) for name, number in value["valueMap"].items()]
        return coded_map_reader(mapping), True, None

    def _code_set(self, name: str) -> CodeSet:
        if name not in self._code_sets:
            raise ValueError(f"code set {name!r} is not defined in codeSets")
        return self._code_sets[name]

    def _register(self, resource_type: str, codes: CodeSet, panels: CodeSet | None, slot: int) -> None:
        routes = [(codes, Target(slot))]
        if panels is not None:
            routes.append((panels, Target(slot, components=codes)))
        for code_set, target in routes:
            for coding in code_set.codes:
                self._exact[resource_type][coding].append(target)
            for system, prefix in code_set.prefixes:
                self._prefixes[resource_type].append((system, prefix, (target,)))

    def dispatch(self) -> dict[str, ResourceDispatch]:
        types = set(self._exact) | set(self._prefixes)
        return {
            resource_type: ResourceDispatch(
                exact={coding: tuple(targets) for coding, targets in self._exact[resource_type].items()},
                prefixes=tuple(self._prefixes[resource_type]),
            )
            for resource_type in types
        }
