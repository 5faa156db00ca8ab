"""GraphBuilder: collects the nodes and initializers of an ONNX graph while a model is exported.

Export traces the model: every emitted tensor is a ``Traced(name, value)`` pair, the ONNX name and
the array strided computed for it on a sample input. The values give each layer the shapes its
ONNX form needs (an adaptive pooling's input size, a Flatten's trailing sizes) without any shape
inference of our own, and they are what onnxruntime must reproduce.
"""

from typing import NamedTuple

import numpy as np

from .errors import require_onnx


class Traced(NamedTuple):
    """A name (an ONNX tensor's at export, a strided Graph node's at import) and its value on the sample."""

    name: str
    value: np.ndarray


class GraphBuilder:
    """Nodes and initializers of one ONNX graph, with unique names.

    ``node(op, inputs, scope)`` appends a node and returns its output name; ``constant(array)``
    and ``parameter(key, array)`` add initializers (parameters keep their state-dict key as name,
    so an import can give each array back to the layer it belongs to).
    """

    def __init__(self, opset: int, dtype):
        self.onnx = require_onnx()
        self.opset = opset
        self.dtype = np.dtype(dtype)
        self.nodes, self.initializers = [], []
        self._used = set()

    def fresh(self, hint: str) -> str:
        """A name not used yet, built from ``hint``."""
        name, count = hint, 1
        while name in self._used:
            count += 1
            name = f"{hint}_{count}"
        self._used.add(name)
        return name

    def node(self, op: str, inputs, scope: str, outputs: int = 1, **attributes):
        """Append ``op`` reading ``inputs`` (names, '' for an absent optional input); returns its output name(s).

        ``scope`` is the module path (``layer1.0.conv1``): node names are ``scope/op`` as in
        PyTorch's exports, so an imported graph names its layers after the original modules.
        """
        base = f"{scope}/{op}" if scope else op
        names = [self.fresh(f"{base}_output_{i}") for i in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), names, name=self.fresh(base), **attributes))
        return names[0] if outputs == 1 else names

    def constant(self, array, hint: str) -> str:
        """An initializer holding ``array`` (kept at its own dtype: int64 shapes, float weights)."""
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(array), name))
        return name

    def scalar(self, value: float, hint: str) -> str:
        """A 0-d initializer of the model's dtype."""
        return self.constant(np.array(value, dtype=self.dtype), hint)

    def parameter(self, key: str, array) -> str:
        """An initializer named by its state-dict ``key`` (``layer1.0.conv1.weight``)."""
        if key in self._used:
            raise ValueError(f"export: two arrays would share the ONNX name {key!r}")
        self._used.add(key)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.require(array, requirements="C"), key))
        return key

    def ints(self, values, hint: str) -> str:
        """An int64 1-d initializer (pads, shapes, axes)."""
        return self.constant(np.asarray(values, dtype=np.int64), hint)
