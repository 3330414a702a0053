"""The hot path: prefetch -> FeatureVector, in one pass plus a short loop per feature.

:mod:`scan` routes every resource of the prefetch to the features whose codes it carries;
:mod:`screening` checks each feature's candidates; this module aggregates, applies the missing-value
policy, evaluates derived features and assembles the vector with its provenance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

import numpy as np

from cds_server.features.aggregate import aggregate
from cds_server.features.plan import DerivedFeature
from cds_server.features.plan import Feature
from cds_server.features.plan import MappingPlan
from cds_server.features.plan import MissingPolicy
from cds_server.features.plan import PatientFeature
from cds_server.features.plan import SourceFeature
from cds_server.features.provenance import Contribution
from cds_server.features.provenance import Exclusion
from cds_server.features.provenance import ExclusionReason
from cds_server.features.provenance import FeatureProvenance
from cds_server.features.provenance import FeatureStatus
from cds_server.features.readings import Reading
from cds_server.features.readings import Rejection
from cds_server.features.references import belongs_to
from cds_server.features.references import resource_label
from cds_server.features.scan import Candidate
from cds_server.features.scan import Scan
from cds_server.features.scan import scan_prefetch
from cds_server.features.screening import RequestContext
from cds_server.features.screening import collect
from cds_server.features.screening import range_problem
from cds_server.features.vector import FeatureVector


def extract(
    plan: MappingPlan,
    *,
    mapping: str,
    version: str,
    template_keys: Iterable[str],
    prefetch: object,
    now: datetime,
    patient_id: str | None,
) -> FeatureVector:
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime (the extractor never reads the clock)")
    now = now.astimezone(UTC)
    scan = scan_prefetch(prefetch, plan)
    values: dict[str, float] = {}
    provenance: dict[str, FeatureProvenance] = {}
    request = RequestContext(scan, now=now, patient_id=patient_id)
    for feature in plan.features:
        result = _evaluate(feature, plan, scan, request, values=values)
        values[feature.name] = result.value
        provenance[feature.name] = result
        flag = feature.missing.flag
        if flag is not None:
            indicator = FeatureProvenance(
                name=flag,
                value=1.0 if result.missing else 0.0,
                status=FeatureStatus.DERIVED,
                is_input=feature.is_input,
                indicator_of=feature.name,
            )
            values[flag] = indicator.value
            provenance[flag] = indicator
    vector = np.array([values[name] for name in plan.vector_names], dtype=np.float32)
    inputs = dict.fromkeys((*template_keys, *sorted(plan.context_keys)), "absent")
    inputs.update({key: status.value for key, status in scan.key_status.items()})
    return FeatureVector(
        mapping=mapping,
        mapping_version=version,
        names=plan.vector_names,
        values=vector,
        auxiliary={name: values[name] for name in plan.auxiliary_names},
        provenance=provenance,
        missing=tuple(name for name, prov in provenance.items() if prov.missing),
        imputed=tuple(name for name, prov in provenance.items() if prov.imputed),
        reference_time=now,
        patient_id=patient_id,
        inputs=inputs,
        notes=tuple(scan.notes),
    )


def _evaluate(
    feature: Feature, plan: MappingPlan, scan: Scan, request: RequestContext, *, values: Mapping[str, float]
) -> FeatureProvenance:
    if isinstance(feature, SourceFeature):
        return _evaluate_source(feature, plan, scan, request)
    if isinstance(feature, PatientFeature):
        return _evaluate_patient(feature, plan, scan, now=request.now, patient_id=request.patient_id)
    return _evaluate_derived(feature, values)


def _evaluate_source(
    feature: SourceFeature, plan: MappingPlan, scan: Scan, request: RequestContext
) -> FeatureProvenance:
    points, accepted, exclusions, read_any = collect(feature, plan, scan, request)
    if feature.resource_type == "MedicationRequest":
        exclusions.extend(_unresolved_medications(feature, plan, scan))
    value, chosen = aggregate(feature.aggregation, points)
    missing_reason = None
    if math.isnan(value) or (
        feature.aggregation.counts_absence and not points and not _has_source(feature, plan, scan)
    ):
        value = math.nan
        missing_reason = _missing_reason(feature, plan, scan, read_any=read_any)
    return _finish(
        feature.name,
        feature.is_input,
        feature.missing,
        value,
        missing_reason,
        unit=feature.unit,
        aggregation=feature.aggregation.value,
        window=feature.window.text if feature.window is not None else None,
        contributions=tuple(_contribution(*accepted[index]) for index in chosen),
        exclusions=tuple(exclusions),
    )


def _unresolved_medications(feature: SourceFeature, plan: MappingPlan, scan: Scan) -> list[Exclusion]:
    # The drug is unknown, so it may well be one of this feature's: say so rather than read "no".
    return [
        Exclusion(
            resource_label(request),
            ExclusionReason.UNRESOLVED_MEDICATION,
            f"medicationReference {reference} was not found in the prefetch",
            key,
        )
        for key, request, reference in scan.unresolved_medications
        if _reads_key(feature, plan, key)
    ]


def _reads_key(feature: SourceFeature, plan: MappingPlan, key: str) -> bool:
    if feature.explicit_keys is not None:
        return key in feature.explicit_keys
    return key not in plan.context_keys


def _has_source(feature: SourceFeature | PatientFeature, plan: MappingPlan, scan: Scan) -> bool:
    """Whether the prefetch could have shown this feature's resources at all.

    A key that is absent, an OperationOutcome or junk means "unknown", so ``exists`` must not
    read it as "no": the feature is missing rather than 0.
    """
    explicit = feature.explicit_keys if isinstance(feature, SourceFeature) else None
    keys = explicit if explicit is not None else feature.declared_keys
    if any(scan.key_status[key].usable for key in keys if key in scan.key_status):
        return True
    if explicit is not None or not isinstance(feature, SourceFeature):
        return False
    # Resources of this type arrived under some other (non-context) key, e.g. a whole Bundle.
    return any(
        feature.resource_type in types
        for key, types in scan.types_by_key.items()
        if key not in plan.context_keys
    )


def _missing_reason(
    feature: SourceFeature | PatientFeature, plan: MappingPlan, scan: Scan, *, read_any: bool
) -> str:
    if not _has_source(feature, plan, scan):
        explicit = feature.explicit_keys if isinstance(feature, SourceFeature) else None
        keys = sorted(explicit if explicit is not None else feature.declared_keys)
        states = ", ".join(
            f"{key!r} {scan.key_status[key].value if key in scan.key_status else 'absent'}" for key in keys
        )
        return (
            f"no data: prefetch {states}"
            if states
            else "no data: no prefetch key provides this resource type"
        )
    if not read_any:
        return "no matching resources"
    return "no usable values (see exclusions)"


def _evaluate_patient(
    feature: PatientFeature, plan: MappingPlan, scan: Scan, *, now: datetime, patient_id: str | None
) -> FeatureProvenance:
    exclusions: list[Exclusion] = []
    chosen: tuple[str, dict[str, Any]] | None = None
    for key, patient in scan.patients:
        if key in plan.context_keys:
            continue
        label = resource_label(patient)
        if patient_id is not None and not belongs_to(patient, patient_id):
            exclusions.append(
                Exclusion(label, ExclusionReason.WRONG_PATIENT, f"not Patient/{patient_id}", key)
            )
        elif chosen is not None:
            exclusions.append(
                Exclusion(label, ExclusionReason.DUPLICATE_PATIENT, "a Patient was already read", key)
            )
        else:
            chosen = (key, patient)
    value = math.nan
    contributions: tuple[Contribution, ...] = ()
    missing_reason = None
    if chosen is None:
        missing_reason = _missing_reason(feature, plan, scan, read_any=False)
        if _has_source(feature, plan, scan):
            missing_reason = "no Patient resource for this patient"
    else:
        key, patient = chosen
        reading = feature.reader(patient, None, now)
        if isinstance(reading, Rejection):
            exclusions.append(Exclusion(resource_label(patient), reading.reason, reading.detail, key))
        elif (
            feature.value_range is not None
            and not feature.value_range[0] <= reading.value <= feature.value_range[1]
        ):
            problem = range_problem(reading.value, feature.unit, feature.value_range)
            exclusions.append(Exclusion(resource_label(patient), ExclusionReason.IMPLAUSIBLE, problem, key))
        else:
            value = reading.value
            contributions = (_contribution((patient, None, key, None), reading, None),)
        if math.isnan(value):
            missing_reason = "no usable value (see exclusions)"
    return _finish(
        feature.name,
        feature.is_input,
        feature.missing,
        value,
        missing_reason,
        unit=feature.unit,
        contributions=contributions,
        exclusions=tuple(exclusions),
    )


def _evaluate_derived(feature: DerivedFeature, values: Mapping[str, float]) -> FeatureProvenance:
    derivation = feature.derivation
    value = derivation.evaluate(values)
    inputs = tuple((name, values[name]) for name in derivation.names)
    missing_reason = None
    if math.isnan(value):
        absent = [name for name, input_value in inputs if math.isnan(input_value)]
        missing_reason = (
            f"inputs missing: {', '.join(absent)}" if absent else f"{derivation.text} is undefined here"
        )
    elif feature.value_range is not None and not feature.value_range[0] <= value <= feature.value_range[1]:
        missing_reason = f"implausible: {range_problem(value, feature.unit, feature.value_range)}"
        value = math.nan
    return _finish(
        feature.name,
        feature.is_input,
        feature.missing,
        value,
        missing_reason,
        unit=feature.unit,
        derived_from=inputs,
        derived=True,
    )


def _finish(
    name: str,
    is_input: bool,
    policy: MissingPolicy,
    value: float,
    missing_reason: str | None,
    *,
    unit: str | None = None,
    aggregation: str | None = None,
    window: str | None = None,
    contributions: tuple[Contribution, ...] = (),
    exclusions: tuple[Exclusion, ...] = (),
    derived_from: tuple[tuple[str, float], ...] = (),
    derived: bool = False,
) -> FeatureProvenance:
    if not math.isnan(value):
        status = FeatureStatus.DERIVED if derived else FeatureStatus.OBSERVED
        missing_reason = None
    elif policy.impute is not None:
        value = policy.impute
        status = FeatureStatus.IMPUTED
    else:
        status = FeatureStatus.MISSING
    return FeatureProvenance(
        name,
        value,
        status,
        is_input,
        unit,
        aggregation,
        window,
        contributions,
        exclusions,
        missing_reason,
        derived_from,
    )


def _contribution(candidate: Candidate, reading: Reading, raw_time: str | None) -> Contribution:
    resource, component, key, medication = candidate
    component_code = None
    if component is not None:
        code = component.get("code")
        codings = code.get("coding") if isinstance(code, dict) else None
        first = codings[0] if isinstance(codings, list) and codings and isinstance(codings[0], dict) else {}
        component_code = f"{first.get('system')}|{first.get('code')}"
    return Contribution(
        resource=resource_label(resource),
        key=key,
        time=raw_time,
        value=reading.value,
        raw_value=reading.raw_value,
        raw_unit=reading.raw_unit,
        unit_from=reading.unit_from,
        component=component_code,
        detail=f"via {medication}" if medication is not None else reading.detail,
    )
