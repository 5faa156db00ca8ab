"""``st.onnx.export(model, path, input_shape=(C, H, W))``: a strided model as an ONNX file.

How it works, in order:

1. The model is put in eval mode and traced on a zero batch of ``input_shape``: containers
   (Graph, Sequential, the ResNet, DenseNet and MobileNet blocks, feature extractors and pyramids:
   export_pyramid.py) are walked, and each layer is called and handed to its ONNX form
   (export_layers.LAYERS) with its traced input and output.
2. Parameters and buffers become initializers named by their state-dict keys
   (``layer1.0.conv1.weight``); state no node reads (batch norm's ``num_batches_tracked``) goes
   into the metadata, so that ``st.onnx.load`` can give a strided model back its exact state dict.
3. The class names, input shape, preprocessing and architecture of the model go into
   ``metadata_props`` (``strided.*`` keys, JSON values).
4. ``onnx.checker.check_model(full_check=True)`` must pass before the file is written (atomically).
"""

import json
from pathlib import Path

import numpy as np

from .. import nn
from ..grad_mode import no_grad
from ..io.atomic import atomic_write_bytes
from .builder import GraphBuilder, Traced
from .errors import OnnxError, require_onnx
from .export_layers import LAYERS
from .export_pyramid import MULTI_OUTPUT

MIN_OPSET, MAX_OPSET = 13, 21
META_KEYS = ("name", "class_names", "input_shape", "preprocessing", "metrics")
INPUT_NAME, OUTPUT_NAME = "input", "output"


def export(model, path, input_shape=None, opset: int = 17, dynamic_batch: bool = True, metadata=None) -> Path:
    """Write ``model`` to ``path`` as ONNX; returns the path.

    ``input_shape`` is (C, H, W) (or (features,) for a model on flat vectors); by default the one
    recorded in ``model.metadata`` (models loaded with ``st.load``). ``dynamic_batch`` names the
    batch dimension 'N' instead of fixing it at 1. ``metadata`` overrides or adds to what goes into
    ``metadata_props``: class_names, input_shape, preprocessing, name, metrics, or any other string key.
    """
    onnx = require_onnx()
    if not isinstance(opset, int) or not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxError(f"export: opset must be an int from {MIN_OPSET} to {MAX_OPSET}, got {opset!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"export: expected a strided Module, got {type(model).__name__}")
    if isinstance(model, nn.Graph) and len(model.input_names) != 1:
        raise OnnxError(f"export: {model.label()} has {len(model.input_names)} inputs; export takes models of one "
                        "input")
    meta = {**(getattr(model, "metadata", None) or {}), **(metadata or {})}
    input_shape = input_shape if input_shape is not None else meta.get("input_shape")
    if input_shape is None:
        raise OnnxError("export: give input_shape=(C, H, W): the model does not record the size of its input")
    input_shape = tuple(int(s) for s in input_shape)
    meta["input_shape"] = list(input_shape)
    dtype = next((p.dtype for p in model.parameters()), np.dtype(np.float32))

    builder = GraphBuilder(opset, dtype)
    builder.fresh(INPUT_NAME)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            outputs = emit_module(builder, model, "", [Traced(INPUT_NAME, np.zeros((1,) + input_shape, dtype))])
    finally:
        model.train(was_training)
    names = _name_outputs(builder, [out.name for out in outputs])

    helper = onnx.helper
    element = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    batch = "N" if dynamic_batch else 1
    graph = helper.make_graph(
        builder.nodes, getattr(model, "name", None) or type(model).__name__,
        [helper.make_tensor_value_info(INPUT_NAME, element, [batch, *input_shape])],
        [helper.make_tensor_value_info(name, element, [batch, *out.value.shape[1:]])
         for name, out in zip(names, outputs, strict=True)],
        initializer=builder.initializers)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="strided",
                              producer_version=_version(), ir_version=helper.find_min_ir_version_for(opsets))
    helper.set_model_props(proto, _metadata_props(model, meta, _remaining_state(builder, model)))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as error:  # a bug of ours: say so with the checker's reason
        raise OnnxError(f"export: the ONNX graph of {model.label()} fails onnx.checker: {error}") from error
    return atomic_write_bytes(path, proto.SerializeToString())


def emit_module(b, module, scope: str, xs: list) -> list:
    """Emit ``module`` applied to the traced inputs ``xs``; returns its traced outputs."""
    if isinstance(module, nn.Graph):
        return _graph(b, module, scope, xs)
    if isinstance(module, nn.Sequential):
        return [_chain(b, module.named_children(), scope, xs[0])]
    block = BLOCKS.get(type(module))
    if block is not None:
        return [block(b, module, scope, xs[0])]
    multi = MULTI_OUTPUT.get(type(module))
    if multi is not None:
        return multi(b, module, scope, xs[0], emit_module)
    refused = next((reason for kind, reason in REFUSED.items() if isinstance(module, kind)), None)
    if refused is not None:
        raise OnnxError(f"export: {module.label()} {refused}")
    layer = LAYERS.get(type(module))
    if layer is None:
        raise OnnxError(f"export: {module.label()} ({type(module).__module__}.{type(module).__name__}) has no ONNX "
                        "form in strided; see docs/onnx.md for the layers that export")
    y = module(*[x.value for x in xs])
    return [Traced(layer(b, module, scope or type(module).__name__, xs, y), y)]


def _sub(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def _graph(b, graph, scope, xs):
    values = dict(zip(graph.input_names, xs, strict=True))
    for name, module, inputs in graph.nodes:
        (values[name],) = emit_module(b, module, _sub(scope, name), [values[i] for i in inputs])
    return [values[name] for name in graph.output_names]


def _chain(b, named_modules, scope, x):
    for name, module in named_modules:
        (x,) = emit_module(b, module, _sub(scope, name), [x])
    return x


def _relu(b, x, scope):
    return Traced(b.node("Relu", [x.name], scope), np.maximum(x.value, 0))


def _residual_sum(b, block, scope, x, main):
    """relu(main + shortcut(x)), the end of both ResNet blocks."""
    shortcut = x if block.downsample is None else emit_module(b, block.downsample, _sub(scope, "downsample"), [x])[0]
    total = Traced(b.node("Add", [main.name, shortcut.name], scope), main.value + shortcut.value)
    return _relu(b, total, scope)


def _residual_block(b, block, scope, x):
    parts = [(n, getattr(block, n)) for n in ("conv1", "bn1", "relu", "conv2", "bn2")]
    return _residual_sum(b, block, scope, x, _chain(b, parts, scope, x))


def _bottleneck(b, block, scope, x):
    h = _chain(b, [(n, getattr(block, n)) for n in ("conv1", "bn1", "relu", "conv2", "bn2")], scope, x)
    h = _chain(b, [("conv3", block.conv3), ("bn3", block.bn3)], scope, _relu(b, h, scope))
    return _residual_sum(b, block, scope, x, h)


def _named_chain(b, block, scope, x):
    """DenseLayer and Transition: their children in order."""
    return _chain(b, block.named_children(), scope, x)


def _dense_block(b, block, scope, x):
    """features = cat(x, layer_1(x), layer_2(cat(...)), ...): one Concat per layer."""
    features = x
    for name, layer in block.named_children():
        (new,) = emit_module(b, layer, _sub(scope, name), [features])
        features = Traced(b.node("Concat", [features.name, new.name], scope, axis=1),
                          np.concatenate([features.value, new.value], axis=1))
    return features


def _inverted_residual(b, block, scope, x):
    """conv(x) + x when the block keeps the shortcut (stride 1, same channels), else conv(x)."""
    y = emit_module(b, block.conv, _sub(scope, "conv"), [x])[0]
    if not block.use_res_connect:
        return y
    return Traced(b.node("Add", [y.name, x.name], scope), y.value + x.value)


BLOCKS = {
    nn.InvertedResidual: _inverted_residual,
    nn.ResidualBlock: _residual_block,
    nn.Bottleneck: _bottleneck,
    nn.DenseLayer: _named_chain,
    nn.Transition: _named_chain,
    nn.DenseBlock: _dense_block,
}


_DICT_MAPS = ("takes a dict of feature maps; an exported graph has one input array: export the model that "
              "computes the maps and this pyramid, e.g. st.models.resnet_fpn_backbone")
_HOLDER = ("only holds modules (it has no forward of its own); export the module that calls them, a "
           "Sequential or a Graph")
REFUSED = {  # modules that cannot be one traced layer of an exported graph, with the reason
    nn.ModuleList: _HOLDER,
    nn.ModuleDict: _HOLDER,
    nn.FeaturePyramidNetwork: _DICT_MAPS,
}


def _remaining_state(b, model) -> dict:
    """State no node reads (batch norm's ``num_batches_tracked``), as JSON for ``metadata_props``: a
    strided import gives the model back its whole state dict, and other runtimes see no unused initializer."""
    stored = {init.name for init in b.initializers}
    return {key: {"dtype": str(array.dtype), "value": np.asarray(array).tolist()}
            for key, array in model.state_dict().items() if key not in stored}


def _name_outputs(b, names: list) -> list:
    """Name the graph outputs 'output' ('output_0', ... for several), as most runtimes' examples expect."""
    wanted = [OUTPUT_NAME] if len(names) == 1 else [f"{OUTPUT_NAME}_{i}" for i in range(len(names))]
    producers = {out: node for node in b.nodes for out in node.output}
    renamed = {}
    for name, new in zip(names, wanted, strict=True):
        node = producers.get(name)
        if node is None or name in renamed:  # the input itself, or an array returned twice
            source = renamed.get(name, name)
            b.nodes.append(b.onnx.helper.make_node("Identity", [source], [new], name=b.fresh(f"{new}/Identity")))
            continue
        renamed[name] = new
        node.output[list(node.output).index(name)] = new
        for other in b.nodes:
            for j, source in enumerate(other.input):
                if source == name:
                    other.input[j] = new
    return wanted


def _metadata_props(model, meta: dict, remaining_state: dict) -> dict:
    from ..io.spec import SpecError, module_to_spec

    props = {"strided.version": _version(), "strided.state": json.dumps(remaining_state)}
    for key, value in meta.items():
        props[f"strided.{key}" if key in META_KEYS else str(key)] = (
            value if isinstance(value, str) and key not in META_KEYS else json.dumps(value))
    try:
        props["strided.spec"] = json.dumps(module_to_spec(model))
    except SpecError:  # a user's own module: the graph is still exact, only the strided rebuild is not possible
        pass
    return props


def _version() -> str:
    from .. import __version__

    return __version__
