"""Model cards: schema, HTI-1 source attributes, CHAI fields, applicability, verify_artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from cds_server.inference import ModelRegistry
from cds_server.inference import check_applicability
from cds_server.inference import verify_artifacts
from cds_server.inference.card_schema import CARD_SCHEMA
from cds_server.inference.card_schema import schema_json
from cds_server.inference.hti1 import ATTRIBUTE_IDS
from cds_server.inference.hti1 import PREDICTIVE_DSI_ATTRIBUTES

MODEL_IDS = ("ascvd-pce", "prevent", "news2", "diabetes-progression")
CHAI_SECTIONS = (
    "BasicInfo",
    "ReleaseInfo",
    "ModelSummary",
    "UsesAndDirections",
    "Warnings",
    "TrustIngredients",
    "KeyMetrics",
    "Resources",
    "Bibliography",
)


def card_document(committed_artifacts: Path, model_id: str) -> dict:
    return yaml.safe_load(
        (committed_artifacts / model_id / "1.0.0" / "model-card.yaml").read_text(encoding="utf-8")
    )


def test_exported_schema_file_is_the_schema_the_runtime_uses(committed_artifacts: Path) -> None:
    exported = committed_artifacts / "schema" / "model-card.schema.json"
    assert exported.read_text(encoding="utf-8") == schema_json()
    Draft202012Validator.check_schema(json.loads(exported.read_text(encoding="utf-8")))


def test_there_are_31_hti1_attributes_in_nine_categories_and_the_schema_requires_each() -> None:
    assert len(PREDICTIVE_DSI_ATTRIBUTES) == 31
    assert {attribute.id.split(".")[0] for attribute in PREDICTIVE_DSI_ATTRIBUTES} == {
        str(n) for n in range(1, 10)
    }
    schema = CARD_SCHEMA["properties"]["source_attributes"]
    assert schema["required"] == list(ATTRIBUTE_IDS)
    assert schema["additionalProperties"] is False
    assert [schema["properties"][key]["title"] for key in ATTRIBUTE_IDS] == [
        a.title for a in PREDICTIVE_DSI_ATTRIBUTES
    ]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_card_covers_hti1_and_chai_and_validates(committed_artifacts: Path, model_id: str) -> None:
    document = card_document(committed_artifacts, model_id)

    assert list(document["source_attributes"]) == list(ATTRIBUTE_IDS)
    assert all(value.strip() for value in document["source_attributes"].values())
    assert tuple(document["chai_model_card"]) == CHAI_SECTIONS
    assert Draft202012Validator(CARD_SCHEMA).is_valid(document)
    assert document["references"]


@pytest.mark.parametrize("model_id", MODEL_IDS)
def test_every_input_has_a_reference_distribution_or_says_why_not(
    committed_artifacts: Path, model_id: str
) -> None:
    for spec in card_document(committed_artifacts, model_id)["inputs"]:
        distribution = spec["reference_distribution"]
        if "quantiles" in distribution:
            assert distribution["quantiles"] == sorted(distribution["quantiles"])
            assert distribution["n"] >= 1
        elif "proportion" in distribution:
            assert 0 <= distribution["proportion"] <= 1
        else:
            assert "Synthea" in distribution["unavailable"]


def test_source_attributes_render_in_regulatory_order(registry: ModelRegistry) -> None:
    attributes = registry.card("news2").source_attributes()
    assert [attribute.id for attribute in attributes] == list(ATTRIBUTE_IDS)
    assert attributes[0].citation == "45 CFR 170.315(b)(11)(iv)(B)(1)(i)"
    assert attributes[-1].category == "Update and continued validation or fairness assessment schedule"


def test_card_as_dict_is_a_copy(registry: ModelRegistry) -> None:
    card = registry.card("prevent")
    document = card.as_dict()
    document["name"] = "changed"
    assert card.as_dict()["name"] != "changed"


def test_check_applicability_names_input_limit_and_reason(registry: ModelRegistry) -> None:
    card = registry.card("ascvd-pce")
    values = dict(zip(card.input_names, [55.0, 1, 0, 213, 50, 120, 0, 0, 0], strict=True))
    assert check_applicability(card, values) == []
    assert check_applicability(card, {**values, "hdl_cholesterol": 101}) == [
        "hdl_cholesterol is outside 20 to 100 mg/dL: the equations are not valid for HDL cholesterol outside "
        "20-100 mg/dL"
    ]
    assert check_applicability(card, {**values, "sex_male": 0.5}) == ["sex_male must be one of 0, 1"]
    missing = dict(values)
    del missing["diabetes"]
    assert check_applicability(card, missing) == ["diabetes is missing or not a finite number"]


def test_verify_reports_nothing_for_the_committed_repository(committed_artifacts: Path) -> None:
    assert verify_artifacts(committed_artifacts) == []


def test_verify_names_every_bad_file(repository: Path) -> None:
    truncated = repository / "prevent" / "1.0.0" / "model.onnx"
    truncated.write_bytes(truncated.read_bytes()[:200])
    card = repository / "news2" / "1.0.0" / "model-card.yaml"
    card.write_text(
        card.read_text(encoding="utf-8").replace("card_schema: 1", "card_schema: 2"), encoding="utf-8"
    )
    (repository / "ascvd-pce" / "deployment.yaml").unlink()

    problems = {problem.path: problem for problem in verify_artifacts(repository)}

    assert set(problems) == {truncated, card, repository / "ascvd-pce" / "deployment.yaml"}
    assert "sha256 mismatch" in problems[truncated].problem
    assert problems[truncated].model_id == "prevent"
    assert problems[truncated].version == "1.0.0"
    assert "card_schema" in problems[card].problem
    assert str(truncated) in str(problems[truncated])


def test_verify_checks_versions_that_are_not_deployed(repository: Path) -> None:
    stray = repository / "news2" / "0.9.0"
    stray.mkdir()
    (stray / "model-card.yaml").write_text("{}", encoding="utf-8")
    problems = verify_artifacts(repository)
    assert [problem.path for problem in problems] == [stray / "model-card.yaml"]
