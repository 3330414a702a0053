"""A bad service declaration fails start-up with the file and the field in the message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cds_server.features import MappingRegistry
from cds_server.inference import ModelRegistry
from cds_server.services.loader import ServiceDeclarationError
from cds_server.services.loader import load_service_declarations
from tests.support.paths import REPO_ROOT


def declaration(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((REPO_ROOT / "cds_services" / "ascvd-risk.yaml").read_text())
    for dotted, value in changes.items():
        target = document
        *parents, leaf = dotted.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return document


def load(
    directory: Path, mappings: MappingRegistry, models: ModelRegistry, *documents: dict[str, Any]
) -> None:
    for index, document in enumerate(documents):
        (directory / f"service-{index}.yaml").write_text(yaml.safe_dump(document))
    load_service_declarations(directory, mappings=mappings, models=models, public_base_url="https://x.org")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mapping": "nope"}, "mapping 'nope' is not in fhir_mappings/"),
        ({"model": "nope"}, "model 'nope' is not in model_artifacts/"),
        ({"mapping": "prevent"}, "mapping 'prevent' produces"),
        ({"card__output": "cvd_10y"}, "card.output 'cvd_10y' is not an output"),
        ({"card__when": "risk_10y >= 0.075 and import_os"}, "card.when"),
        ({"card__summary": "risk {nonsense}"}, "unknown values ['nonsense']"),
        ({"labels": {"shoe_size": "Shoe size"}}, "labels name unknown features"),
        ({"card__whatIf": [{"label": "x", "set": {"height": 1}}]}, "card.whatIf[0].set"),
        ({"optionalPrefetch": ["nope"]}, "optionalPrefetch"),
        ({"card__indicator": "red"}, "card.indicator"),
        ({"hooks": []}, "hooks"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_declarations_name_file_and_field(
    services_dir: Path,
    mappings: MappingRegistry,
    models: ModelRegistry,
    changes: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(ServiceDeclarationError) as caught:
        load(services_dir, mappings, models, declaration(**changes))
    assert "service-0.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_suggested_resources_must_be_valid_fhir(
    services_dir: Path, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    bad = {
        "label": "x",
        "action": {"description": "d", "resource": {"resourceType": "MedicationRequest", "status": 42}},
    }
    with pytest.raises(ServiceDeclarationError, match=r"card.suggestions\[0\].action.resource"):
        load(services_dir, mappings, models, declaration(card__suggestions=[bad]))


def test_duplicate_ids_are_refused(
    services_dir: Path, mappings: MappingRegistry, models: ModelRegistry
) -> None:
    with pytest.raises(ServiceDeclarationError, match="also declared"):
        load(services_dir, mappings, models, declaration(), declaration())


def test_not_yaml(services_dir: Path, mappings: MappingRegistry, models: ModelRegistry) -> None:
    (services_dir / "broken.yaml").write_text("id: [unclosed")
    with pytest.raises(ServiceDeclarationError, match=r"broken\.yaml: not valid YAML"):
        load_service_declarations(
            services_dir, mappings=mappings, models=models, public_base_url="https://x.org"
        )
