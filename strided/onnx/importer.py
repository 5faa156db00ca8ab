"""``st.onnx.load(path)``: an ONNX file as a strided model, trainable and savable with ``st.save``.

How it works, in order:

1. The file is read with its external data (initializers stored beside it are found relative to it).
2. A file that strided exported carries its architecture (``strided.spec``): the strided model is
   rebuilt from it and given the initializers by state-dict key, so the round trip returns the very
   model that was exported (same class, same state dict). ``from_graph=True`` skips this.
3. Otherwise the graph is converted node by node, in ONNX's (topological) order, into a strided
   ``Graph``: constants and shape arithmetic are folded (fold.py); every other operator goes to
   its converter (import_ops.CONVERTERS), which adds strided layers and gives them the weights.
   Each new layer is run on a traced sample (batch 1, the input's shape), so converters know
   their input shapes and a layer that cannot take what the graph feeds it fails here, at import.
"""

import json
import keyword
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import nn
from ..grad_mode import no_grad
from .builder import Traced
from .errors import OnnxError, require_onnx
from .fold import FOLDERS, fold, shape_of
from .import_ops import CONVERTERS, PASSTHROUGH

META_KEYS = ("name", "class_names", "input_shape", "preprocessing", "metrics")


def load(path, input_shape=None, from_graph: bool = False):
    """Build a strided model (in eval mode, with ``model.metadata``) from the ONNX file at ``path``.

    ``input_shape`` (C, H, W) is needed only when the file leaves those sizes symbolic.
    """
    onnx = require_onnx()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such ONNX file", str(path))
    try:
        proto = onnx.load(str(path))
    except Exception as error:  # protobuf's decode errors have no common base
        raise OnnxError(f"{path}: not a readable ONNX file ({error})") from error
    props = {p.key: p.value for p in proto.metadata_props}
    model = None
    if not from_graph and "strided.spec" in props:
        model = _rebuild_from_spec(proto, props)
    if model is None:
        try:
            model = GraphImporter(proto, input_shape).run()
        except OnnxError as error:
            raise OnnxError(f"{path}: {error}") from error
    object.__setattr__(model, "metadata", _metadata(proto, props, path, input_shape))
    return model.eval()


def _initializers(proto) -> dict:
    from onnx import numpy_helper

    return {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}


def _rebuild_from_spec(proto, props):
    """The exported strided model itself, when every state-dict entry is in the file; else None."""
    from ..io.spec import SpecError, module_from_spec

    try:
        model = module_from_spec(json.loads(props["strided.spec"]))
    except (SpecError, json.JSONDecodeError):
        return None  # a newer or foreign description: the graph is still there
    arrays = _initializers(proto)
    for key, entry in json.loads(props.get("strided.state", "{}")).items():
        arrays[key] = np.array(entry["value"], dtype=entry["dtype"])
    keys = list(model.state_dict())
    if any(key not in arrays for key in keys):
        return None
    floats = {arrays[k].dtype for k in keys if np.issubdtype(arrays[k].dtype, np.floating)}
    if len(floats) == 1:
        model.to(floats.pop())
    model.load_state_dict({key: arrays[key] for key in keys})
    return model


def _metadata(proto, props, path, input_shape) -> dict:
    meta = {}
    for key in META_KEYS:
        if f"strided.{key}" in props:
            meta[key] = json.loads(props[f"strided.{key}"])
    if "input_shape" not in meta:
        dims = _input_dims(proto)
        meta["input_shape"] = list(input_shape) if input_shape is not None else (
            dims[1:] if dims and all(isinstance(d, int) for d in dims[1:]) else None)
    meta.setdefault("name", proto.graph.name or path.stem)
    return {k: v for k, v in meta.items() if v is not None}


def _graph_inputs(proto) -> list:
    initialized = {init.name for init in proto.graph.initializer}
    return [i for i in proto.graph.input if i.name not in initialized]  # old exporters list weights as inputs


def _input_dims(proto, index: int = 0):
    inputs = _graph_inputs(proto)
    if len(inputs) <= index:
        return None
    return [d.dim_value if d.HasField("dim_value") else d.dim_param
            for d in inputs[index].type.tensor_type.shape.dim]


def node_hint(node) -> str:
    """A Python identifier for a strided node from an ONNX node name: PyTorch's '/layer1/layer1.0/conv1/Conv'
    becomes 'layer1_0_conv1' (scopes that repeat their parent's prefix are merged, the op name dropped)."""
    parts = [p for p in (node.name or "").split("/") if p]
    if len(parts) > 1:
        parts = parts[:-1]
    merged = []
    for part in parts:
        if merged and part.startswith(merged[-1] + "."):
            merged[-1] = part
        else:
            merged.append(part)
    hint = re.sub(r"\W+", "_", "_".join(merged)).strip("_").lower()
    return hint or node.op_type.lower()


class GraphImporter:
    """The conversion of one ONNX graph; converters call ``tensor``, ``constant``, ``add`` and ``bind``."""

    def __init__(self, proto, input_shape=None):
        self.onnx = require_onnx()
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.proto = proto
        self.constants = _initializers(proto)
        self.marks = {}  # folded integer tensors: which entries are the batch size
        self.tensors = {}  # ONNX name -> Traced (strided array)
        self.absorbed = set()  # nodes a converter already handled together with an earlier one
        self.consumers = {}
        self._names = set()
        for node in proto.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        inputs = _graph_inputs(proto)
        if not inputs:
            raise OnnxError("the graph has no input")
        names = [self._unique(_identifier(i.name)) for i in inputs]
        self.graph = nn.Graph(inputs=tuple(names))
        for index, (spec, name) in enumerate(zip(inputs, names, strict=True)):
            element = spec.type.tensor_type.elem_type
            self.dtype = np.dtype(self.onnx.helper.tensor_dtype_to_np_dtype(element))
            self.tensors[spec.name] = Traced(name, np.zeros(self._sample_shape(index, input_shape), self.dtype))

    def _sample_shape(self, index, input_shape):
        dims = _input_dims(self.proto, index)
        rest = dims[1:]
        if input_shape is not None and index == 0:
            rest = list(input_shape)
        if not all(isinstance(d, int) and d > 0 for d in rest):
            raise OnnxError(f"input {index} has the symbolic shape {dims}; give input_shape=(C, H, W)")
        return (1, *rest)

    # ----------------------------------------------------------------- what converters use
    def attributes(self, node) -> dict:
        """The node's attributes; floats (stored as float32) as the shortest decimal that is that float32,
        so that an eps of 1e-5 comes back as 1e-05 and not 9.999999747378752e-06."""
        values = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        return {k: v.decode() if isinstance(v, bytes) else float(str(np.float32(v))) if isinstance(v, float) else v
                for k, v in values.items()}

    def is_constant(self, name: str) -> bool:
        return name in self.constants

    def constant(self, node, index: int, default=None):
        """Input ``index`` of ``node``, which must be a constant (a weight, pads, a shape)."""
        if index >= len(node.input) or not node.input[index]:
            return default
        name = node.input[index]
        if name not in self.constants:
            raise OnnxError(f"node {node.name!r} ({node.op_type}): input {index} ({name!r}) must be a constant "
                            "(an initializer or computable from them) for strided to import it")
        return self.constants[name]

    def tensor(self, node, index: int) -> Traced:
        name = node.input[index]
        if name not in self.tensors:
            raise OnnxError(f"node {node.name!r} ({node.op_type}): input {name!r} is not a computed array")
        return self.tensors[name]

    def add(self, module, inputs, node, suffix: str = "") -> Traced:
        """Add ``module`` reading ``inputs`` (Traced) as a Graph node named after ``node``; trace it."""
        name = self._unique(node_hint(node) + suffix)
        self.graph.add(name, module, [x.name for x in inputs])
        module.eval()
        with no_grad():
            value = module(*[x.value for x in inputs])
        return Traced(name, value)

    def bind(self, node, traced: Traced, index: int = 0) -> None:
        self.tensors[node.output[index]] = traced

    def parameter(self, array) -> np.ndarray:
        return np.array(array, dtype=self.dtype)

    # ----------------------------------------------------------------- the conversion
    def run(self):
        for node in self.proto.graph.node:
            if id(node) not in self.absorbed:
                self._convert(node)
        outputs = []
        for spec in self.proto.graph.output:
            if spec.name not in self.tensors:
                raise OnnxError(f"graph output {spec.name!r} is a constant or was not computed")
            traced = self.tensors[spec.name]
            if traced.name in self.graph.input_names or traced.name in outputs:
                traced = self.add(nn.Identity(), [traced], _StandIn(spec.name))
            outputs.append(traced.name)
        return self.graph.set_outputs(*outputs)

    def _convert(self, node) -> None:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            raise OnnxError(f"operator {node.domain}.{op} (node {node.name!r}) is not a standard ONNX operator")
        attrs = self.attributes(node)
        if op == "Constant":
            self.constants[node.output[0]] = self._constant_attribute(node, attrs)
            return
        present = [name for name in node.input if name]
        if op == "Shape" and present[0] in self.tensors:
            self.constants[node.output[0]], self.marks[node.output[0]] = shape_of(self.tensors[present[0]].value, attrs)
            return
        if present and all(name in self.constants for name in present) and op in FOLDERS:
            values = [self.constants.get(name) if name else None for name in node.input]
            marks = [self.marks.get(name) if name else None for name in node.input]
            try:
                self.constants[node.output[0]], out_marks = fold(op, values, marks, attrs)
            except OnnxError as error:
                raise OnnxError(f"node {node.name!r} ({op}): {error}") from error
            if out_marks is not None and out_marks.any():
                self.marks[node.output[0]] = out_marks
            return
        if op in PASSTHROUGH:  # Identity, Dropout: the output is the input
            self.bind(node, self.tensor(node, 0))
            return
        converter = CONVERTERS.get(op)
        if converter is None:
            raise OnnxError(f"unsupported ONNX operator {op} (node {node.name!r}); docs/onnx.md lists those "
                            "strided imports")
        converter(self, node, attrs)

    def _constant_attribute(self, node, attrs):
        from onnx import numpy_helper

        if "value" in attrs:
            return numpy_helper.to_array(attrs["value"])
        for key, dtype in (("value_float", np.float32), ("value_int", np.int64), ("value_floats", np.float32),
                           ("value_ints", np.int64)):
            if key in attrs:
                return np.array(attrs[key], dtype=dtype)
        raise OnnxError(f"node {node.name!r} (Constant): unsupported form {sorted(attrs)}")

    def _unique(self, hint: str) -> str:
        """A node name not taken yet and not the name of a Graph attribute ('forward', 'training', ...)."""
        base = name = _identifier(hint)
        count = 1
        while name in self._names or hasattr(_PROBE, name):
            count += 1
            name = f"{base}_{count}"
        self._names.add(name)
        return name


_PROBE = nn.Graph()


class _StandIn(NamedTuple):
    """A stand-in node (name only) for layers added without an ONNX node of their own."""

    name: str
    op_type: str = "Identity"


def _identifier(name: str) -> str:
    name = re.sub(r"\W+", "_", name).strip("_") or "x"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"x_{name}"
    return name
