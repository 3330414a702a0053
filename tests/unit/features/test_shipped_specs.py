"""The shipped mapping specs: the vector contracts the reference models are built against."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from cds_server.features import MappingRegistry
from cds_server.features.plan import SourceFeature

CONTRACTS = {
    "ascvd_pce": (
        "age_years",
        "sex_male",
        "race_black",
        "total_cholesterol",
        "hdl_cholesterol",
        "systolic_bp",
        "on_bp_treatment",
        "current_smoker",
        "diabetes",
    ),
    "prevent": (
        "age_years",
        "sex_female",
        "total_cholesterol",
        "hdl_cholesterol",
        "systolic_bp",
        "on_bp_treatment",
        "on_statin",
        "diabetes",
        "current_smoker",
        "egfr",
        "bmi",
    ),
    "news2": (
        "respiratory_rate",
        "spo2",
        "on_supplemental_oxygen",
        "temperature",
        "systolic_bp",
        "heart_rate",
        "consciousness_alert",
        "spo2_scale2",
    ),
    "diabetes_progression": (
        "age_years",
        "sex_code",
        "bmi",
        "mean_arterial_pressure",
        "total_cholesterol",
        "ldl_cholesterol",
        "hdl_cholesterol",
        "tc_hdl_ratio",
        "ln_triglycerides",
        "glucose",
    ),
}

UNITS = {
    ("ascvd_pce", "total_cholesterol"): "mg/dL",
    ("ascvd_pce", "hdl_cholesterol"): "mg/dL",
    ("ascvd_pce", "systolic_bp"): "mm[Hg]",
    ("prevent", "egfr"): "mL/min/{1.73_m2}",
    ("prevent", "bmi"): "kg/m2",
    ("news2", "respiratory_rate"): "/min",
    ("news2", "spo2"): "%",
    ("news2", "temperature"): "Cel",
    ("news2", "heart_rate"): "/min",
    ("diabetes_progression", "glucose"): "mg/dL",
    ("diabetes_progression", "ldl_cholesterol"): "mg/dL",
}


def test_exactly_the_contracted_mappings_ship(registry: MappingRegistry) -> None:
    assert registry.names() == tuple(sorted(CONTRACTS))


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_vector_order_and_model_input(registry: MappingRegistry, name: str) -> None:
    mapping = registry.get(name)
    assert mapping.feature_names == CONTRACTS[name]
    assert mapping.input_name == "float_input"
    assert mapping.input_dtype == "float32"
    assert mapping.version == "1.0.0"


@pytest.mark.parametrize(("name", "feature"), sorted(UNITS))
def test_target_units(registry: MappingRegistry, name: str, feature: str) -> None:
    plan = {f.name: f for f in registry.get(name).plan.features}
    assert plan[feature].unit == UNITS[name, feature]


def test_ascvd_auxiliary_features_are_outside_the_vector(registry: MappingRegistry) -> None:
    mapping = registry.get("ascvd_pce")
    assert mapping.auxiliary_names == ("on_statin", "statin_in_draft_orders")
    assert mapping.context_keys == {"draftOrders"}
    assert "draftOrders" not in mapping.prefetch


def test_generated_templates_stay_in_the_recommended_subset(registry: MappingRegistry) -> None:
    for mapping in registry:
        for key, template in mapping.prefetch.items():
            assert "{{context.patientId}}" in template, key
            assert "_include" not in template, key
            assert ":" not in template.split("?", 1)[-1].replace("%3A", ""), key  # no search modifiers


def test_bp_panels_and_statins_reach_the_generated_queries(registry: MappingRegistry) -> None:
    ascvd = registry.get("ascvd_pce")
    observations = unquote(ascvd.prefetch["observations"])
    assert "http://loinc.org|55284-4" in observations
    assert "http://loinc.org|85354-9" in observations
    # Medication sets are too long for a URL: status filters, the dispatch filters the codes.
    assert (
        ascvd.prefetch["medications"]
        == "MedicationRequest?patient={{context.patientId}}&status=active&_count=200"
    )
    assert ascvd.required_prefetch == {"patient", "observations", "conditions", "medications"}


def test_news2_uses_its_hand_written_templates(registry: MappingRegistry) -> None:
    news2 = registry.get("news2")
    assert news2.required_prefetch == {"vitals"}
    assert "http://snomed.info/sct|57485005" in unquote(news2.prefetch["procedures"])


def test_every_vital_sign_of_news2_has_a_24_hour_window(registry: MappingRegistry) -> None:
    for feature in registry.get("news2").plan.features:
        if isinstance(feature, SourceFeature) and feature.resource_type == "Observation":
            assert feature.window is not None, feature.name
            assert feature.window.text == "PT24H", feature.name


def test_statin_set_contains_synthea_codes_and_the_pinned_value_set(registry: MappingRegistry) -> None:
    on_statin = next(
        f
        for f in registry.get("prevent").plan.features
        if isinstance(f, SourceFeature) and f.name == "on_statin"
    )
    dispatch = registry.get("prevent").plan.dispatch["MedicationRequest"].exact
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    for code in ("316672", "314231", "617312", "36567", "83367", "1790679"):
        assert any(t.slot == on_statin.slot for t in dispatch[rxnorm, code]), code
