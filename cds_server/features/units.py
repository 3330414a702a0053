"""UCUM unit handling: conversion factors are computed once at load, never per request.

ucumvert (UCUM -> pint) does the arithmetic at start-up; on the hot path a conversion is a dict
lookup, a multiply and an add (the add is only non-zero for temperatures). Mass <-> molar
concentration is not a unit conversion in UCUM, so it needs the analyte's molar mass, declared per
feature. A unit that cannot be resolved to one of a feature's precomputed source units is never
used: the value is dropped and the reason recorded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

UCUM_SYSTEM = "http://unitsofmeasure.org"

#: Source units every numeric feature is offered; each keeps only those commensurable with its
#: target (through the molar mass where one is declared). Extend per feature with ``acceptUnits``.
CANDIDATE_UNITS: tuple[str, ...] = (
    "mg/dL",
    "g/dL",
    "g/L",
    "mg/L",
    "mmol/L",
    "umol/L",
    "mm[Hg]",
    "/min",
    "{beats}/min",
    "{breaths}/min",
    "Cel",
    "[degF]",
    "K",
    "%",
    "1",
    "kg/m2",
    "kg",
    "g",
    "[lb_av]",
    "m",
    "cm",
    "[in_i]",
    "L/min",
    "mL/min",
    "mL/min/{1.73_m2}",
)


@dataclass(frozen=True, slots=True)
class Conversion:
    """``target = source * scale + offset``."""

    scale: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """Everything a feature needs at request time to bring a Quantity into its target unit."""

    target: str
    conversions: Mapping[str, Conversion]
    synonyms: Mapping[str, str]

    def resolve(self, quantity: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """``(UCUM source unit or None, the unit text found)`` for a Quantity.

        A UCUM-coded quantity is trusted on its code (its ``unit`` is display text); otherwise the
        ``unit`` and ``code`` strings go through the reviewed synonym table.
        """
        code = quantity.get("code")
        unit = quantity.get("unit")
        if quantity.get("system") == UCUM_SYSTEM and isinstance(code, str):
            return self._lookup(code), code
        for text in (unit, code):
            if isinstance(text, str):
                found = self._lookup(text)
                if found is not None:
                    return found, text
        raw = unit if isinstance(unit, str) else code if isinstance(code, str) else None
        return None, raw

    def _lookup(self, text: str) -> str | None:
        text = text.strip()
        if text in self.conversions:
            return text
        mapped = self.synonyms.get(text) or self.synonyms.get(text.lower())
        return mapped if mapped in self.conversions else None


class UnitConverter:
    """Load-time UCUM arithmetic (ucumvert + pint). Not for use on the request path."""

    def __init__(self) -> None:
        self._parsed: dict[str, Any] = {}

    def validate(self, code: str) -> None:
        """Raise ValueError unless ``code`` is a valid UCUM expression."""
        self._parse(code)

    def conversion(self, source: str, target: str, molar_mass: float | None = None) -> Conversion | None:
        """The conversion from ``source`` to ``target``, or None when they are incommensurable."""
        src = self._parse(source)
        tgt = self._parse(target)
        factor = None
        if src.dimensionality != tgt.dimensionality:
            if molar_mass is None:
                return None
            factor = self._molar_factor(src, tgt, molar_mass)
            if factor is None:
                return None

        def convert(value: float) -> float:
            quantity = type(src)(value * src.magnitude, src.units)
            if factor is not None:
                quantity = quantity * factor
            return float(quantity.to(tgt.units).magnitude / tgt.magnitude)

        offset = convert(0.0)
        scale = convert(1.0) - offset
        if not (math.isfinite(scale) and math.isfinite(offset)) or scale == 0:
            return None
        return Conversion(scale=scale, offset=offset)

    def _molar_factor(self, src: Any, tgt: Any, molar_mass: float) -> Any:
        """``g/mol`` or ``mol/g`` times the molar mass, whichever makes ``src`` commensurable."""
        if "[temperature]" in str(src.dimensionality) or "[temperature]" in str(tgt.dimensionality):
            return None  # offset units cannot be multiplied, and no temperature is a concentration
        per_mole = self._parse("g/mol") * molar_mass
        if (src * per_mole).dimensionality == tgt.dimensionality:
            return per_mole
        if (src / per_mole).dimensionality == tgt.dimensionality:
            return 1 / per_mole
        return None

    def plan(
        self,
        target: str,
        *,
        molar_mass: float | None,
        extra_sources: Iterable[str],
        synonyms: Mapping[str, str],
    ) -> UnitPlan:
        sources = dict.fromkeys([target, *CANDIDATE_UNITS, *synonyms.values(), *extra_sources])
        conversions: dict[str, Conversion] = {}
        for source in sources:
            conversion = self.conversion(source, target, molar_mass)
            if conversion is not None:
                conversions[source] = conversion
        return UnitPlan(target=target, conversions=conversions, synonyms=synonyms)

    def _parse(self, code: str) -> Any:
        if code not in self._parsed:
            try:
                self._parsed[code] = _registry().from_ucum(code)
            except Exception as exc:  # ucumvert raises lark and pint errors alike; all mean "invalid"
                raise ValueError(f"{code!r} is not a valid UCUM unit") from exc
        return self._parsed[code]


@lru_cache(maxsize=1)
def _registry() -> Any:
    # Building the registry takes ~0.5 s, so it is made once per process, on first use.
    from ucumvert import PintUcumRegistry

    return PintUcumRegistry()


def parse_synonyms(lines: Iterable[str]) -> dict[str, str]:
    """Parse ``units/synonyms.tsv``: ``raw<TAB>ucum[<TAB>note]``, ``#`` comments, one header row."""
    table: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.rstrip("\n")
        if not stripped.strip() or stripped.lstrip().startswith("#"):
            continue
        fields = stripped.split("\t")
        if fields[0] == "raw":
            continue
        if len(fields) < 2 or not fields[0] or not fields[1]:
            raise ValueError(f"line {number}: expected 'raw<TAB>ucum[<TAB>note]'")
        if fields[0] in table:
            raise ValueError(f"line {number}: {fields[0]!r} is listed twice")
        table[fields[0]] = fields[1]
    # Feeds vary the case of non-UCUM strings ("MG/DL", "Mg/dl"); a lower-cased alias of each entry
    # catches them, and a clash between two entries' aliases is a table error, not a silent choice.
    aliases: dict[str, str] = {}
    for raw, ucum in table.items():
        lowered = raw.lower()
        if aliases.get(lowered, ucum) != ucum:
            raise ValueError(f"{raw!r} and another entry differ only in case but map to different units")
        aliases[lowered] = ucum
    return {**aliases, **table}
