"""The card's explanation: the inputs behind a score, what was missing, and what would change it.

Markdown (GitHub-flavoured, no raw HTML) built from the mapping engine's provenance, so every number
on the card can be traced to a resource and a date.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence

from cds_server.features import FeatureProvenance
from cds_server.features import FeatureVector

_UNIT_LABELS = {"a": "years", "mm[Hg]": "mmHg", "Cel": "°C", "/min": "/min", "kg/m2": "kg/m²", "1": ""}


def unit_label(ucum: str | None) -> str:
    if ucum is None:
        return ""
    return _UNIT_LABELS.get(ucum, ucum.replace("{1.73_m2}", "1.73 m²"))


def format_number(value: float) -> str:
    if math.isnan(value):
        return "—"
    if abs(value - round(value)) < 1e-9:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2g}" if abs(value) < 1 else f"{value:.1f}"


def describe_value(provenance: FeatureProvenance) -> str:
    """``"142 mmHg"``, ``"yes"``/``"no"`` for flags, ``"not recorded"`` when missing."""
    if provenance.missing and not provenance.imputed:
        return "not recorded"
    unit = unit_label(provenance.unit)
    if provenance.unit in (None, "1") and provenance.value in (0.0, 1.0):
        text = "yes" if provenance.value == 1.0 else "no"
    else:
        text = f"{format_number(provenance.value)} {unit}".strip()
    return f"{text} (assumed)" if provenance.imputed else text


def describe_date(provenance: FeatureProvenance) -> str:
    times = [c.time for c in provenance.contributions if c.time]
    return max(times)[:10] if times else "—"


def inputs_table(features: FeatureVector, names: Sequence[str], labels: Mapping[str, str]) -> str:
    rows = ["| Input | Value | Recorded |", "|---|---|---|"]
    for name in names:
        provenance = features.provenance[name]
        rows.append(
            f"| {labels.get(name, name)} | {describe_value(provenance)} | {describe_date(provenance)} |"
        )
    return "\n".join(rows)


def missing_sentence(features: FeatureVector, names: Sequence[str], labels: Mapping[str, str]) -> str | None:
    missing = [labels.get(name, name) for name in names if features.provenance[name].missing]
    if not missing:
        return None
    return "Not recorded (or outside the look-back window): " + ", ".join(missing) + "."
