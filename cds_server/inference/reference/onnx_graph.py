"""A small, deterministic ONNX graph builder for the equation and score models.

Deterministic means byte-identical on every run: node and initializer names come from counters,
the producer fields are ours (not the onnx version's), IR version and opset are pinned, and nothing
depends on dict or set order. The same builder output therefore always has the same sha256.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from numpy.typing import ArrayLike
from onnx import TensorProto
from onnx import helper
from onnx import numpy_helper

#: Pinned so that onnxruntime >= 1.14 (IR 8) loads every reference model.
OPSET = 17
IR_VERSION = 8
PRODUCER_NAME = "cds-server reference model builder"
#: Bump when the builder changes what it emits; recorded in each model and card.
PRODUCER_VERSION = "1"

DOUBLE = TensorProto.DOUBLE
FLOAT = TensorProto.FLOAT
_NUMPY_OF: dict[int, type[np.generic]] = {DOUBLE: np.float64, FLOAT: np.float32}


class GraphBuilder:
    """Builds a graph over one ``(batch, width)`` float32 input named ``features``.

    ``compute_type`` is the precision the arithmetic runs in: the input is cast to it once. Inside,
    values flow as ``(1, batch)`` rows of the transposed input: elementwise ops then run over a
    contiguous innermost axis (onnxruntime's fast path; ``(batch, 1)`` columns take its slow
    broadcasting loop, about three times slower at batch 4096), a matrix of terms is one Concat
    of contiguous rows, and every output is a free reshape back to ``(batch, 1)``. Fewer nodes
    also means lower latency at batch 1, where each node costs a fixed overhead.
    """

    def __init__(self, *, width: int, compute_type: int, input_name: str = "features") -> None:
        self.compute_type = compute_type
        self._counts: Counter[str] = Counter()
        self._nodes: list[onnx.NodeProto] = []
        self._initializers: list[onnx.TensorProto] = []
        self._outputs: list[onnx.ValueInfoProto] = []
        self._input = helper.make_tensor_value_info(input_name, FLOAT, [None, width])
        features = self.op("Cast", input_name, to=compute_type) if compute_type != FLOAT else input_name
        #: The input as a ``(width, batch)`` matrix: one row per feature.
        self.feature_rows = self.op("Transpose", features, perm=[1, 0], hint="feature_rows")

    def _name(self, hint: str) -> str:
        self._counts[hint] += 1
        return f"{hint}_{self._counts[hint]}"

    def const(self, value: ArrayLike, *, dtype: int | None = None, hint: str = "const") -> str:
        """An initializer; ``dtype`` defaults to the compute type."""
        element_type = self.compute_type if dtype is None else dtype
        array = np.asarray(value, dtype=_NUMPY_OF.get(element_type, np.int64))
        name = self._name(hint)
        self._initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, *inputs: str, hint: str | None = None, **attributes: Any) -> str:
        """One node with one output; returns the output's name."""
        output = self._name(hint or op_type.lower())
        self._nodes.append(
            helper.make_node(
                op_type, list(inputs), [output], name=self._name(f"node_{op_type}"), **attributes
            )
        )
        return output

    def rows(self, matrix: str, hints: Sequence[str]) -> list[str]:
        """The rows of a ``(len(hints), batch)`` matrix as ``(1, batch)`` values, in one Split."""
        outputs = [self._name(hint) for hint in hints]
        self._nodes.append(
            helper.make_node("Split", [matrix], outputs, name=self._name("node_Split"), axis=0)
        )
        return outputs

    def stack(self, rows: Sequence[str], hint: str) -> str:
        """``(1, batch)`` rows stacked into one ``(len(rows), batch)`` matrix."""
        return self.op("Concat", *rows, axis=0, hint=hint)

    def flag(self, row: str) -> str:
        """A boolean ``row >= 0.5``: 0/1 inputs read as yes/no without exact float equality."""
        return self.op("GreaterOrEqual", row, self.const(0.5), hint="is_set")

    def poisoned_by_non_finite_input(self, row: str) -> str:
        """``row`` plus ``0 * sum(features)``: NaN or inf anywhere in the input row makes it NaN.

        Selections (Where) and comparisons swallow NaN silently: a NaN flag reads as "no" and
        a NaN vital sign falls into a score band. Adding this term makes every non-finite input
        surface as a non-finite output, which the runtime refuses to turn into a card.
        """
        axis = self.const([0], dtype=TensorProto.INT64, hint="axis")
        feature_sum = self.op("ReduceSum", self.feature_rows, axis, keepdims=1)
        return self.op("Add", row, self.op("Mul", feature_sum, self.const(0.0)), hint="checked")

    def output(self, row: str, name: str, *, dtype: int | None = None) -> None:
        """Expose a ``(1, batch)`` row as the ``(batch, 1)`` graph output ``name``."""
        element_type = self.compute_type if dtype is None else dtype
        if element_type != self.compute_type:
            row = self.op("Cast", row, to=element_type)
        shape = self.const([-1, 1], dtype=TensorProto.INT64, hint="column_shape")
        self._nodes.append(helper.make_node("Reshape", [row, shape], [name], name=self._name("node_output")))
        self._outputs.append(helper.make_tensor_value_info(name, element_type, [None, 1]))

    def build(self, *, graph_name: str, doc: str, metadata: Mapping[str, str]) -> onnx.ModelProto:
        graph = helper.make_graph(self._nodes, graph_name, [self._input], self._outputs, self._initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER_NAME,
            producer_version=PRODUCER_VERSION,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        for key, value in sorted(metadata.items()):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.checker.check_model(model, full_check=True)
        return model


def serialize(model: onnx.ModelProto) -> bytes:
    """Deterministic protobuf bytes (no map fields are used, so field order is fixed)."""
    data: bytes = model.SerializeToString(deterministic=True)
    return data
