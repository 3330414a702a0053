"""Turn checked artifacts into a running model, or say exactly why not.

Opening a version creates the session from the very bytes whose sha256 was checked, confirms the
graph's inputs and outputs are what the card promises (one ``(batch, width)`` tensor in; one plain
tensor per named output, no ZipMap maps or sequences), and replays the card's self-tests. That
replay is the warm-up run: it allocates the session's buffers before the first request and proves
the artifact reproduces known values on the provider it will serve from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cds_server.inference.artifacts import VersionArtifacts
from cds_server.inference.card import ModelCard
from cds_server.inference.errors import ArtifactError
from cds_server.inference.session import create_session
from cds_server.inference.session import provider_in_use

#: Card dtype name -> (numpy dtype, onnxruntime type string).
TENSOR_TYPES: dict[str, tuple[type[np.floating[Any]], str]] = {
    "float32": (np.float32, "tensor(float)"),
    "float64": (np.float64, "tensor(double)"),
}


@dataclass(frozen=True)
class LoadedVersion:
    """One model version with a live session. Immutable; a reload builds a new one."""

    card: ModelCard
    session: Any
    provider: str
    requested_providers: tuple[str, ...]

    @property
    def input_dtype(self) -> type[np.floating[Any]]:
        return TENSOR_TYPES[self.card.input_tensor.dtype][0]

    def run(self, matrix: NDArray[Any]) -> dict[str, NDArray[np.float64]]:
        """Outputs for a ``(batch, width)`` matrix already checked against the card, one vector each."""
        raw = self.session.run(list(self.card.output_names), {self.card.input_tensor.name: matrix})
        batch = matrix.shape[0]
        outputs: dict[str, NDArray[np.float64]] = {}
        for name, values in zip(self.card.output_names, raw, strict=True):
            vector = np.asarray(values, dtype=np.float64).reshape(-1)
            if vector.shape[0] != batch:
                raise RuntimeError(
                    f"{self.card.id} {self.card.version}: output {name} has {vector.shape[0]} values for "
                    f"{batch} rows"
                )
            outputs[name] = vector
        return outputs


def open_version(artifacts: VersionArtifacts, *, providers: Sequence[str]) -> LoadedVersion:
    """Create, check and warm up the session for one version.

    :raise ArtifactError: naming the model file: onnxruntime refused it, its I/O contradicts the
        card, or a self-test did not reproduce.
    """
    card, path = artifacts.card, artifacts.model_path
    try:
        session = create_session(artifacts.model_bytes, providers)
    except Exception as error:  # onnxruntime raises several unrelated types for a bad graph
        raise ArtifactError(path, f"onnxruntime cannot load it: {_first_line(error)}") from None
    _check_io_contract(session, card, path)
    loaded = LoadedVersion(
        card=card,
        session=session,
        provider=provider_in_use(session),
        requested_providers=tuple(providers),
    )
    _replay_self_tests(loaded, path)
    return loaded


def _check_io_contract(session: Any, card: ModelCard, path: Path) -> None:
    inputs = session.get_inputs()
    tensor = card.input_tensor
    if len(inputs) != 1:
        raise ArtifactError(
            path, f"graph has {len(inputs)} inputs; the contract is one (batch, width) tensor"
        )
    graph_input = inputs[0]
    expected_type = TENSOR_TYPES[tensor.dtype][1]
    if graph_input.name != tensor.name or graph_input.type != expected_type:
        raise ArtifactError(
            path,
            f"graph input is {graph_input.name} {graph_input.type}; card says {tensor.name} {expected_type}",
        )
    shape = graph_input.shape
    if len(shape) != 2 or shape[1] != tensor.width:
        raise ArtifactError(path, f"graph input shape is {shape}; card says [batch, {tensor.width}]")

    graph_outputs = {output.name: output for output in session.get_outputs()}
    non_tensor = sorted(
        name for name, output in graph_outputs.items() if not output.type.startswith("tensor(")
    )
    if non_tensor:
        raise ArtifactError(path, f"outputs {non_tensor} are maps/sequences; export with ZipMap off")
    for spec in card.outputs:
        output = graph_outputs.get(spec.name)
        if output is None:
            raise ArtifactError(path, f"graph has no output {spec.name!r} (it has {sorted(graph_outputs)})")
        if output.type != TENSOR_TYPES[spec.dtype][1]:
            raise ArtifactError(path, f"output {spec.name} is {output.type}; card says {spec.dtype}")
        if len(output.shape) not in (1, 2) or (len(output.shape) == 2 and output.shape[1] != 1):
            raise ArtifactError(
                path, f"output {spec.name} has shape {output.shape}; expected [batch] or [batch, 1]"
            )


def _replay_self_tests(loaded: LoadedVersion, path: Path) -> None:
    card = loaded.card
    matrix = np.array(
        [[test.inputs[name] for name in card.input_names] for test in card.self_tests],
        dtype=loaded.input_dtype,
    )
    try:
        outputs = loaded.run(matrix)
    except Exception as error:  # a graph that loads can still fail at run time (shape bugs)
        raise ArtifactError(path, f"warm-up run failed: {_first_line(error)}") from None
    for row, test in enumerate(card.self_tests):
        for name, expected in test.expected.items():
            actual = float(outputs[name][row])
            if not (math.isfinite(actual) and abs(actual - expected) <= test.tolerance):
                raise ArtifactError(
                    path,
                    f"self-test {test.description!r} failed on {loaded.provider}: {name} = {actual:.6g}, "
                    f"expected {expected:.6g} ± {test.tolerance:g}",
                )


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]
