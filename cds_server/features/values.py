"""Value readers: how a matched resource (or Observation component) becomes a number.

Every reader tolerates arbitrary JSON: a missing or mistyped element becomes a
:class:`Rejection`, never an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cds_server.features.codesets import CodeSet
from cds_server.features.codesets import iter_codings
from cds_server.features.fhirpath import FhirPath
from cds_server.features.fhirtime import parse_fhir_datetime
from cds_server.features.provenance import ExclusionReason
from cds_server.features.readings import Reading
from cds_server.features.readings import Rejection
from cds_server.features.readings import ValueReader
from cds_server.features.units import UCUM_SYSTEM
from cds_server.features.units import UnitPlan

US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
US_CORE_ETHNICITY = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"
_NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"

_PRESENT = Reading(1.0)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _element(resource: dict[str, Any], component: dict[str, Any] | None) -> dict[str, Any]:
    return component if component is not None else resource


def quantity_reader(plan: UnitPlan) -> ValueReader:
    """``valueQuantity`` converted into the feature's UCUM unit."""

    target = plan.target
    target_conversion = plan.conversions[target]

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        quantity = (component if component is not None else resource).get("valueQuantity")
        if not isinstance(quantity, dict):
            return Rejection(ExclusionReason.NO_VALUE, "no valueQuantity")
        raw = quantity.get("value")
        if type(raw) is not float or not math.isfinite(raw):  # exact type check keeps booleans out
            raw = _number(raw)
            if raw is None:
                return Rejection(ExclusionReason.NO_VALUE, "valueQuantity.value is not a finite number")
        code = quantity.get("code")
        if code == target and quantity.get("system") == UCUM_SYSTEM:
            # The common case: already in the target unit, nothing to resolve.
            return Reading(target_conversion.apply(raw), raw_value=raw, raw_unit=code)
        source, raw_unit = plan.resolve(quantity)
        if source is None:
            shown = repr(raw_unit) if raw_unit is not None else "no unit"
            return Rejection(ExclusionReason.UNKNOWN_UNIT, f"{shown} cannot be converted to {plan.target}")
        value = plan.conversions[source].apply(raw)
        unit_from = source if source != plan.target else None
        return Reading(value, raw_value=raw, raw_unit=raw_unit, unit_from=unit_from)

    return read


def _coded_value(element: dict[str, Any]) -> list[tuple[str, str]] | None:
    concept = element.get("valueCodeableConcept")
    if not isinstance(concept, dict):
        return None
    return list(iter_codings(concept))


def coded_in_reader(code_set: CodeSet) -> ValueReader:
    """1 when ``valueCodeableConcept`` is in the set, 0 for any other coded value."""

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        codings = _coded_value(_element(resource, component))
        if not codings:
            return Rejection(ExclusionReason.NO_VALUE, "no coded value")
        hit = next((f"{system}|{code}" for system, code in codings if code_set.contains(system, code)), None)
        shown = hit or f"{codings[0][0]}|{codings[0][1]}"
        return Reading(1.0 if hit else 0.0, raw_value=shown)

    return read


def coded_map_reader(mapping: Sequence[tuple[CodeSet, float]]) -> ValueReader:
    """The number of the first listed code set that the coded value belongs to; others are excluded."""

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        codings = _coded_value(_element(resource, component))
        if not codings:
            return Rejection(ExclusionReason.NO_VALUE, "no coded value")
        for code_set, number in mapping:
            for system, code in codings:
                if code_set.contains(system, code):
                    return Reading(number, raw_value=f"{system}|{code}")
        shown = ", ".join(f"{system}|{code}" for system, code in codings)
        return Rejection(ExclusionReason.UNMAPPED_CODE, f"coded value {shown} is in none of the mapped sets")

    return read


def presence_reader(resource: dict[str, Any], component: dict[str, Any] | None, now: datetime) -> Reading:
    """Each matching resource counts as 1 (for ``exists`` and ``count``)."""
    return _PRESENT


def fhirpath_reader(path: FhirPath) -> ValueReader:
    """The first item of a FHIRPath result, which must be a number or a boolean."""

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        try:
            result = path.evaluate(resource)
        except Exception as exc:  # fhirpathpy raises many types on odd data; all mean "no value here"
            return Rejection(ExclusionReason.EXPRESSION_ERROR, f"{path.text}: {type(exc).__name__}")
        if not result:
            return Rejection(ExclusionReason.NO_VALUE, f"{path.text} is empty")
        first = result[0]
        if isinstance(first, bool):
            return Reading(float(first), raw_value=str(first).lower())
        number = _number(first)
        if number is None:
            return Rejection(ExclusionReason.NO_VALUE, f"{path.text} is not a number or boolean")
        return Reading(number, raw_value=number)

    return read


def age_reader(
    resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
) -> Reading | Rejection:
    """Completed years between ``birthDate`` (partial dates: low boundary) and the reference time."""
    raw = resource.get("birthDate")
    born = parse_fhir_datetime(raw)
    if born is None:
        return Rejection(ExclusionReason.NO_VALUE, "no readable birthDate")
    if born > now:
        return Rejection(ExclusionReason.AFTER_REFERENCE_TIME, f"birthDate {raw} is after the reference time")
    years = now.year - born.year - ((now.month, now.day) < (born.month, born.day))
    return Reading(float(years), raw_value=str(raw))


def gender_reader(mapping: Mapping[str, float]) -> ValueReader:
    """``Patient.gender`` through a value map; unmapped genders (other, unknown) are excluded."""

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        gender = resource.get("gender")
        if not isinstance(gender, str):
            return Rejection(ExclusionReason.NO_VALUE, "no gender")
        if gender not in mapping:
            return Rejection(ExclusionReason.UNMAPPED_CODE, f"gender {gender!r} is not mapped")
        return Reading(mapping[gender], raw_value=gender)

    return read


def us_core_category_reader(url: str, code_set: CodeSet) -> ValueReader:
    """1/0 for a US Core race or ethnicity extension (``ombCategory`` and ``detailed`` codings).

    No extension, or only null-flavour codes (UNK, ASKU), means unknown: the value is missing.
    """

    def read(
        resource: dict[str, Any], component: dict[str, Any] | None, now: datetime
    ) -> Reading | Rejection:
        codings: list[tuple[str, str]] = []
        for extension in _list(resource.get("extension")):
            if extension.get("url") != url:
                continue
            for part in _list(extension.get("extension")):
                if part.get("url") in ("ombCategory", "detailed"):
                    codings.extend(iter_codings(part.get("valueCoding")))
        known = [(system, code) for system, code in codings if system != _NULL_FLAVOR]
        if not known:
            name = url.rsplit("-", 1)[-1]
            return Rejection(ExclusionReason.NO_VALUE, f"no known US Core {name} category")
        hit = next((f"{system}|{code}" for system, code in known if code_set.contains(system, code)), None)
        return Reading(1.0 if hit else 0.0, raw_value=hit or ", ".join(f"{s}|{c}" for s, c in known))

    return read


def _list(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
