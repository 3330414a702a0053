"""``cds-server models verify``: every bad file in a model repository, without serving anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cds_server.inference.artifacts import MODEL_ID_PATTERN
from cds_server.inference.artifacts import CardSchema
from cds_server.inference.artifacts import model_dirs
from cds_server.inference.artifacts import read_version
from cds_server.inference.artifacts import version_dirs
from cds_server.inference.deployment import DEPLOYMENT_FILE
from cds_server.inference.deployment import read_deployment
from cds_server.inference.errors import ArtifactError
from cds_server.inference.loader import open_version
from cds_server.inference.session import CPU


@dataclass(frozen=True, slots=True)
class ArtifactProblem:
    """One bad file and what is wrong with it."""

    path: Path
    problem: str
    model_id: str | None = None
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def verify_artifacts(models_dir: Path) -> list[ArtifactProblem]:
    """Every problem in the repository, one per bad file; an empty list means all is well.

    Checks each model's ``deployment.yaml`` and every version directory, deployed or not: the
    card against the schema and itself, the sha256, that onnxruntime loads the graph (on CPU),
    that the graph's inputs and outputs match the card, and that the card's self-tests reproduce.
    """
    schema = CardSchema()
    try:
        models = model_dirs(models_dir)
    except ArtifactError as error:
        return [ArtifactProblem(error.path, error.problem)]

    problems: list[ArtifactProblem] = []
    for model_dir in models:
        problems.extend(_model_problems(model_dir, schema))
    return problems


def _model_problems(model_dir: Path, schema: CardSchema) -> list[ArtifactProblem]:
    model_id = model_dir.name
    problems: list[ArtifactProblem] = []
    if not MODEL_ID_PATTERN.match(model_id):
        problems.append(
            ArtifactProblem(model_dir, "model ids are lower-case letters, digits and '-'", model_id)
        )
    versions = {path.name: path for path in version_dirs(model_dir)}
    try:
        deployment = read_deployment(model_dir / DEPLOYMENT_FILE)
    except ArtifactError as error:
        problems.append(ArtifactProblem(error.path, error.problem, model_id))
    else:
        problems.extend(
            ArtifactProblem(
                model_dir / DEPLOYMENT_FILE, f"deploys version {version}, which does not exist", model_id
            )
            for version in (deployment.active, *deployment.shadow)
            if version not in versions
        )
    for version, version_dir in versions.items():
        try:
            open_version(read_version(version_dir, schema), providers=(CPU,))
        except ArtifactError as error:
            problems.append(ArtifactProblem(error.path, error.problem, model_id, version))
    return problems
