"""Units: every conversion factor a shipped spec uses, checked against an independently stated value."""

from __future__ import annotations

import pytest

from cds_server.features import MappingRegistry
from cds_server.features.plan import SourceFeature
from cds_server.features.units import Conversion
from cds_server.features.units import UnitConverter
from cds_server.features.units import UnitPlan
from cds_server.features.units import parse_synonyms
from tests.unit.features.conftest import MAPPINGS_DIR

CHOLESTEROL, GLUCOSE, TRIOLEIN = 386.65, 180.16, 885.7

#: (target, source, molar mass g/mol) -> (scale, offset), stated from definitions, not computed by
#: the code under test: 1 dL = 0.1 L; 1 lb = 0.45359237 kg (exact); 1 in = 0.0254 m (exact);
#: degC = (degF - 32) x 5/9; degC = K - 273.15; mmol/L -> mg/dL = M x 0.1; UCUM annotations
#: ({beats}, {1.73_m2}) carry no meaning, so they convert 1:1.
EXPECTED: dict[tuple[str, str, float | None], tuple[float, float]] = {
    ("%", "%", None): (1.0, 0.0),
    ("%", "1", None): (100.0, 0.0),
    ("/min", "/min", None): (1.0, 0.0),
    ("/min", "{beats}/min", None): (1.0, 0.0),
    ("/min", "{breaths}/min", None): (1.0, 0.0),
    ("Cel", "Cel", None): (1.0, 0.0),
    ("Cel", "K", None): (1.0, -273.15),
    ("Cel", "[degF]", None): (5 / 9, -32 * 5 / 9),
    ("L/min", "L/min", None): (1.0, 0.0),
    ("L/min", "mL/min", None): (0.001, 0.0),
    ("L/min", "mL/min/{1.73_m2}", None): (0.001, 0.0),
    ("kg", "kg", None): (1.0, 0.0),
    ("kg", "g", None): (0.001, 0.0),
    ("kg", "[lb_av]", None): (0.45359237, 0.0),
    ("kg/m2", "kg/m2", None): (1.0, 0.0),
    ("m", "m", None): (1.0, 0.0),
    ("m", "cm", None): (0.01, 0.0),
    ("m", "[in_i]", None): (0.0254, 0.0),
    ("mL/min/{1.73_m2}", "mL/min/{1.73_m2}", None): (1.0, 0.0),
    ("mL/min/{1.73_m2}", "mL/min", None): (1.0, 0.0),
    ("mL/min/{1.73_m2}", "L/min", None): (1000.0, 0.0),
    ("mm[Hg]", "mm[Hg]", None): (1.0, 0.0),
}
for molar_mass in (CHOLESTEROL, GLUCOSE, TRIOLEIN, None):
    EXPECTED["mg/dL", "mg/dL", molar_mass] = (1.0, 0.0)
    EXPECTED["mg/dL", "g/dL", molar_mass] = (1000.0, 0.0)
    EXPECTED["mg/dL", "g/L", molar_mass] = (100.0, 0.0)
    EXPECTED["mg/dL", "mg/L", molar_mass] = (0.1, 0.0)
# Published clinical factors: cholesterol x38.67, glucose x18.016 (18.0), triglycerides x88.57.
EXPECTED["mg/dL", "mmol/L", CHOLESTEROL] = (38.665, 0.0)
EXPECTED["mg/dL", "umol/L", CHOLESTEROL] = (0.038665, 0.0)
EXPECTED["mg/dL", "mmol/L", GLUCOSE] = (18.016, 0.0)
EXPECTED["mg/dL", "umol/L", GLUCOSE] = (0.018016, 0.0)
EXPECTED["mg/dL", "mmol/L", TRIOLEIN] = (88.57, 0.0)
EXPECTED["mg/dL", "umol/L", TRIOLEIN] = (0.08857, 0.0)


def _unit_plans(registry: MappingRegistry) -> list[tuple[str, str, float | None, UnitPlan]]:
    return [
        (mapping.name, feature.name, feature.molar_mass, feature.unit_plan)
        for mapping in registry
        for feature in mapping.plan.features
        if isinstance(feature, SourceFeature) and feature.unit_plan is not None
    ]


def test_every_factor_in_the_shipped_specs_has_an_independent_expected_value(
    registry: MappingRegistry,
) -> None:
    checked = 0
    for mapping, feature, molar_mass, plan in _unit_plans(registry):
        for source, conversion in plan.conversions.items():
            key = (plan.target, source, molar_mass)
            assert key in EXPECTED, f"{mapping}.{feature}: no stated value for {source} -> {plan.target}"
            scale, offset = EXPECTED[key]
            assert conversion.scale == pytest.approx(scale, rel=1e-9), (mapping, feature, source)
            assert conversion.offset == pytest.approx(offset, abs=1e-9), (mapping, feature, source)
            checked += 1
    assert checked > 80  # guards against the loop silently finding nothing


@pytest.mark.parametrize(
    ("source", "target", "molar_mass", "value", "expected"),
    [
        ("[degF]", "Cel", None, 98.6, 37.0),
        ("[degF]", "Cel", None, -40.0, -40.0),
        ("K", "Cel", None, 310.15, 37.0),
        ("mmol/L", "mg/dL", CHOLESTEROL, 5.0, 193.325),
        ("mg/dL", "mmol/L", GLUCOSE, 90.0, 90.0 / 18.016),
        ("umol/L", "mg/dL", 113.12, 88.4, 1.0),  # creatinine: 88.4 umol/L ~ 1.0 mg/dL
        ("[lb_av]", "kg", None, 220.0, 99.79032),
        ("1", "%", None, 0.97, 97.0),
    ],
)
def test_conversion_arithmetic(
    source: str, target: str, molar_mass: float | None, value: float, expected: float
) -> None:
    conversion = UnitConverter().conversion(source, target, molar_mass)
    assert conversion is not None
    assert conversion.apply(value) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize(
    ("source", "target", "molar_mass"),
    [("mg/dL", "mm[Hg]", None), ("mmol/L", "mg/dL", None), ("Cel", "mg/dL", 100.0), ("kg", "m", None)],
)
def test_incommensurable_units_have_no_conversion(source: str, target: str, molar_mass: float | None) -> None:
    assert UnitConverter().conversion(source, target, molar_mass) is None


@pytest.mark.parametrize("code", ["mmHg", "mg/deciliter", "", "kg/m^2"])
def test_invalid_ucum_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="not a valid UCUM"):
        UnitConverter().validate(code)


def _plan() -> UnitPlan:
    return UnitPlan(
        target="mm[Hg]",
        conversions={"mm[Hg]": Conversion(1.0), "kPa": Conversion(7.50062)},
        synonyms=parse_synonyms(["raw\tucum", "mmHg\tmm[Hg]"]),
    )


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (
            {"system": "http://unitsofmeasure.org", "code": "mm[Hg]", "unit": "millimeter of mercury"},
            ("mm[Hg]", "mm[Hg]"),
        ),
        ({"unit": "mmHg"}, ("mm[Hg]", "mmHg")),
        ({"unit": "MMHG"}, ("mm[Hg]", "MMHG")),  # lower-cased alias of a reviewed entry
        ({"unit": " mm[Hg] "}, ("mm[Hg]", " mm[Hg] ")),
        ({"code": "kPa"}, ("kPa", "kPa")),
        ({"unit": "mm Hg (approx)"}, (None, "mm Hg (approx)")),
        ({}, (None, None)),
        # A UCUM-coded quantity is read by its code only; a display unit cannot rescue a bad code.
        ({"system": "http://unitsofmeasure.org", "code": "mg", "unit": "mmHg"}, (None, "mg")),
    ],
)
def test_unit_resolution(quantity: dict[str, str], expected: tuple[str | None, str | None]) -> None:
    assert _plan().resolve(quantity) == expected


def test_shipped_synonym_targets_are_valid_ucum_and_include_what_feeds_send(
    registry: MappingRegistry,
) -> None:
    table = parse_synonyms((MAPPINGS_DIR / "units" / "synonyms.tsv").read_text(encoding="utf-8").splitlines())
    converter = UnitConverter()
    for ucum in set(table.values()):
        converter.validate(ucum)
    assert table["mmHg"] == "mm[Hg]"
    assert table["mg/dl"] == "mg/dL"
    assert table["beats/min"] == "/min"
    assert "meq/l" not in table  # equals mmol/L only for monovalent ions


def test_synonym_table_errors() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        parse_synonyms(["a\tmg", "a\tg"])
    with pytest.raises(ValueError, match="differ only in case"):
        parse_synonyms(["MG\tmg", "mg\tg"])
    with pytest.raises(ValueError, match="expected"):
        parse_synonyms(["only-one-column"])
