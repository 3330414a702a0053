"""docs/model-authors.md, followed to the letter: its blocks are written into copies of the model,
mapping and service folders, and the new service answers the demo's diabetic patient."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask

from cds_server.cli import main as cli
from tests.conftest import AppFactory
from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.integration

DOC = (REPO_ROOT / "docs" / "model-authors.md").read_text()
EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"


def blocks(kind: str) -> dict[str, str]:
    """``<!-- kind: path -->`` followed by a fenced block: {path: block text}."""
    pattern = rf"<!-- {kind}: (\S+) -->\n```\w*\n(.*?)```"
    return dict(re.findall(pattern, DOC, flags=re.DOTALL))


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The data folders of a checkout, with the page's steps applied."""
    for folder in ("model_artifacts", "cds_services"):
        shutil.copytree(REPO_ROOT / folder, tmp_path / folder)
    # step 1, the shell block
    for line in re.findall(r"^(mkdir -p .*|cp .*)$", DOC, flags=re.MULTILINE):
        words = line.split()
        if words[0] == "mkdir":
            (tmp_path / words[2]).mkdir(parents=True)
        else:
            shutil.copy(tmp_path / words[1], tmp_path / words[2])
    # step 2: set the keys on the copied card
    for path, text in blocks("card-changes").items():
        card = yaml.safe_load((tmp_path / path).read_text())
        card.update(yaml.safe_load(text))
        (tmp_path / path).write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    # steps 3 and 5: new files
    files = blocks("file")
    assert set(files) == {"model_artifacts/ascvd-pce-local/deployment.yaml", "cds_services/bp-ascvd.yaml"}
    for path, text in files.items():
        (tmp_path / path).write_text(text)
    return tmp_path


@pytest.fixture
def app(make_app: AppFactory, checkout: Path) -> Flask:
    return make_app(models_dir=str(checkout / "model_artifacts"), services_dir=str(checkout / "cds_services"))


def test_the_example_verifies_and_answers_as_the_page_says(app: Flask, checkout: Path) -> None:
    verified = CliRunner().invoke(cli, ["models", "verify", "--dir", str(checkout / "model_artifacts")])
    assert verified.exit_code == 0, verified.output

    client = app.test_client()
    discovery = {s["id"]: s for s in client.get("/cds-services").json["services"]}
    assert discovery["bp-ascvd"]["hook"] == "patient-view"
    body = client.get(
        f"/demo/patients/{EMERY}/request", query_string={"service": "bp-ascvd", "hook": "patient-view"}
    ).json
    (card,) = client.post("/cds-services/bp-ascvd", json=body).json["cards"]
    assert card["summary"] == "Systolic BP 164.5 mmHg: 10-year ASCVD risk 16.8 % (intermediate)"
    assert card["indicator"] == "warning"
    assert "with systolic BP 120 mmHg: 9.9 %" in card["detail"]
    assert card["extension"]["cds_server.prediction"]["model"] == "ascvd-pce-local"
    assert card["source"]["topic"]["code"] == "bp-ascvd-risk"

    model = client.get("/models/ascvd-pce-local").json
    assert model["card"]["name"] == "10-year ASCVD risk (Pooled Cohort Equations, site copy)"
    sheet = {s["id"]: s for s in client.get("/docs/registration.json").json["services"]}
    assert sheet["bp-ascvd"]["model"]["id"] == "ascvd-pce-local"
