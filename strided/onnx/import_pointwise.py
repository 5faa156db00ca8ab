"""ONNX operators -> strided layers: activations, elementwise arithmetic, Concat, and the shape
operators (Flatten, Reshape, Squeeze, Unsqueeze, Transpose, Pad) on computed arrays.

Same calling convention as import_ops. Arithmetic with a constant becomes AddConstant / MulConstant
(the constant is a buffer, saved with the model); two computed arrays become nn.Add or onnx Mul.
"""

import numpy as np

from .. import nn
from . import layers
from .errors import OnnxError


def _unary(make):
    def convert(importer, node, attrs):
        importer.bind(node, importer.add(make(attrs), [importer.tensor(node, 0)], node))
    return convert


def _softmax(layer_class):
    def convert(importer, node, attrs):
        x = importer.tensor(node, 0)
        default = -1 if importer.opset >= 13 else 1
        axis = int(attrs.get("axis", default)) % max(x.value.ndim, 1)
        if importer.opset < 13 and axis != x.value.ndim - 1:  # the old form normalised over all axes from axis on
            raise OnnxError(f"node {node.name!r} ({node.op_type}): before opset 13 only the last axis imports")
        importer.bind(node, importer.add(layer_class(dim=axis), [x], node))
    return convert


def clip(importer, node, attrs):
    x = importer.tensor(node, 0)
    low, high = importer.constant(node, 1), importer.constant(node, 2)
    low = attrs.get("min") if low is None else float(low)
    high = attrs.get("max") if high is None else float(high)
    layer = nn.ReLU() if low == 0 and high is None else layers.Clip(low, high)
    importer.bind(node, importer.add(layer, [x], node))


def _constant_layer(layer_class, value, importer):
    layer = layer_class(np.shape(value))
    layer.value = np.array(value, dtype=importer.dtype)
    return layer


def _binary(importer, node):
    """(computed input, other input's name, whether the computed one came first)."""
    a, b = node.input[0], node.input[1]
    if importer.is_constant(a):
        return importer.tensor(node, 1), a, False
    return importer.tensor(node, 0), b, True


def add(importer, node, attrs):
    x, other, _ = _binary(importer, node)
    if importer.is_constant(other):
        layer, inputs = _constant_layer(layers.AddConstant, importer.constants[other], importer), [x]
    else:
        inputs = [importer.tensor(node, 0), importer.tensor(node, 1)]
        if inputs[0].value.shape != inputs[1].value.shape:
            raise OnnxError(f"node {node.name!r} (Add): adding arrays of shapes {inputs[0].value.shape} and "
                            f"{inputs[1].value.shape} (broadcasting) does not import")
        layer = nn.Add()
    importer.bind(node, importer.add(layer, inputs, node))


def total(importer, node, attrs):
    inputs = [importer.tensor(node, i) for i in range(len(node.input))]
    importer.bind(node, importer.add(nn.Add(), inputs, node))


def mul(importer, node, attrs):
    x, other, _ = _binary(importer, node)
    if importer.is_constant(other):
        layer, inputs = _constant_layer(layers.MulConstant, importer.constants[other], importer), [x]
    else:
        layer, inputs = layers.Mul(), [importer.tensor(node, 0), importer.tensor(node, 1)]
    importer.bind(node, importer.add(layer, inputs, node))


def sub_or_div(importer, node, attrs):
    """x - c = x + (-c) and x / c = x * (1/c); a computed divisor or subtrahend does not import."""
    x, other, first = _binary(importer, node)
    if not (first and importer.is_constant(other)):
        raise OnnxError(f"node {node.name!r} ({node.op_type}): imports only as array {node.op_type} constant")
    value = importer.constants[other].astype(importer.dtype)
    layer = (_constant_layer(layers.AddConstant, -value, importer) if node.op_type == "Sub"
             else _constant_layer(layers.MulConstant, 1 / value, importer))
    importer.bind(node, importer.add(layer, [x], node))


def concat(importer, node, attrs):
    inputs = [importer.tensor(node, i) for i in range(len(node.input))]
    axis = int(attrs["axis"]) % inputs[0].value.ndim
    importer.bind(node, importer.add(nn.Concat(dim=axis), inputs, node))


def _reshape_to(importer, node, x, target):
    """A layer giving x the shape ``target`` (0 = copy the batch); nn.Flatten for the usual (N, -1)."""
    target = list(target)
    if x.value.ndim >= 2 and target in ([0, -1], [0, int(np.prod(x.value.shape[1:]))]):
        layer = nn.Flatten()
    else:
        layer = layers.Reshape(target)
    importer.bind(node, importer.add(layer, [x], node))


def flatten(importer, node, attrs):
    x = importer.tensor(node, 0)
    axis = int(attrs.get("axis", 1)) % max(x.value.ndim, 1)
    if axis == 0:
        raise OnnxError(f"node {node.name!r} (Flatten): axis 0 would merge the batch; it does not import")
    _reshape_to(importer, node, x, [-1, int(np.prod(x.value.shape[axis:]))] if axis > 1 else [0, -1])


def reshape(importer, node, attrs):
    x = importer.tensor(node, 0)
    shape = [int(s) for s in importer.constant(node, 1)]
    marks = importer.marks.get(node.input[1])
    if attrs.get("allowzero", 0) and 0 in shape:
        raise OnnxError(f"node {node.name!r} (Reshape): allowzero=1 with a 0 in the shape does not import")
    if marks is not None:  # entries that are the traced batch size: copy the batch instead
        for i in np.flatnonzero(marks):
            shape[i] = 0 if i == 0 else -1
    if shape and shape[0] not in (0, -1) and shape[0] == x.value.shape[0] and -1 not in shape:
        shape[0] = 0  # a fixed leading size equal to the sample's batch: the exporter traced batch 1
    _reshape_to(importer, node, x, shape)


def squeeze_unsqueeze(importer, node, attrs):
    """Squeeze / Unsqueeze of axes after the batch, as a Reshape (the traced batch is 1: it must not be squeezed)."""
    x = importer.tensor(node, 0)
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(a) for a in importer.constant(node, 1)]
    rest = list(x.value.shape[1:])
    if node.op_type == "Squeeze":
        axes = [a % x.value.ndim for a in axes] if axes is not None else [i + 1 for i, s in enumerate(rest) if s == 1]
        out = [s for i, s in enumerate(rest) if i + 1 not in axes]
    else:
        axes = sorted(a % (x.value.ndim + len(axes)) for a in axes)
        out = rest
        for a in axes:
            out = out[:a - 1] + [1] + out[a - 1:]
    if 0 in axes:
        raise OnnxError(f"node {node.name!r} ({node.op_type}): only squeezing or adding axes after the batch imports")
    _reshape_to(importer, node, x, [0, *out])


def slice_array(importer, node, attrs):
    """Slice of a computed array with constant bounds (starts, ends, axes, steps inputs from opset 10)."""
    x = importer.tensor(node, 0)
    starts, ends = importer.constant(node, 1), importer.constant(node, 2)
    axes = importer.constant(node, 3, np.arange(len(starts)))
    steps = importer.constant(node, 4, np.ones(len(starts), dtype=np.int64))
    axes = [int(a) % x.value.ndim for a in axes]
    if 0 in axes:
        raise OnnxError(f"node {node.name!r} (Slice): slicing the batch axis does not import")
    big = np.iinfo(np.int64).max  # ONNX's "to the end"; Python slices take any large int
    layer = layers.Slice([int(v) for v in starts], [min(int(v), big) for v in ends], axes, [int(v) for v in steps])
    importer.bind(node, importer.add(layer, [x], node))


def transpose(importer, node, attrs):
    x = importer.tensor(node, 0)
    perm = attrs.get("perm", list(range(x.value.ndim))[::-1])
    importer.bind(node, importer.add(layers.Transpose(perm), [x], node))


PAD_LAYERS = {"reflect": nn.ReflectionPad2d, "edge": nn.ReplicationPad2d, "wrap": nn.CircularPad2d}


def pad(importer, node, attrs):
    x = importer.tensor(node, 0)
    pads = attrs.get("pads")
    pads = [int(p) for p in (importer.constant(node, 1) if pads is None else pads)]
    value = attrs.get("value", importer.constant(node, 2, 0.0))
    if len(node.input) > 3 and node.input[3]:
        raise OnnxError(f"node {node.name!r} (Pad): the axes input does not import")
    if x.value.ndim != 4 or any(pads[i] for i in (0, 1, 4, 5)):
        raise OnnxError(f"node {node.name!r} (Pad): only padding H and W of an NCHW array imports, got pads {pads}")
    amounts = (pads[3], pads[7], pads[2], pads[6])  # (left, right, top, bottom)
    mode = attrs.get("mode", "constant")
    if mode == "constant":
        layer = nn.ZeroPad2d(amounts) if float(value) == 0 else nn.ConstantPad2d(amounts, float(value))
    elif mode in PAD_LAYERS:
        layer = PAD_LAYERS[mode](amounts)
    else:
        raise OnnxError(f"node {node.name!r} (Pad): mode {mode!r} does not import")
    importer.bind(node, importer.add(layer, [x], node))


def reduce_mean(importer, node, attrs):
    """ReduceMean over H and W (a global average pooling, as Keras exports it)."""
    x = importer.tensor(node, 0)
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = [int(a) for a in importer.constant(node, 1)]
    if x.value.ndim != 4 or axes is None or sorted(a % 4 for a in axes) != [2, 3]:
        raise OnnxError(f"node {node.name!r} (ReduceMean): only the mean over H and W of NCHW imports")
    pooled = importer.add(nn.GlobalAvgPool2d(), [x], node)
    if attrs.get("keepdims", 1):
        importer.bind(node, pooled)
    else:
        importer.bind(node, importer.add(nn.Flatten(), [pooled], node, "_flatten"))


POINTWISE = {
    "Relu": _unary(lambda a: nn.ReLU()),
    "LeakyRelu": _unary(lambda a: nn.LeakyReLU(a.get("alpha", 0.01))),
    "Elu": _unary(lambda a: nn.ELU(a.get("alpha", 1.0))),
    "Sigmoid": _unary(lambda a: nn.Sigmoid()),
    "Tanh": _unary(lambda a: nn.Tanh()),
    "HardSigmoid": _unary(lambda a: layers.HardSigmoid(a.get("alpha", 0.2), a.get("beta", 0.5))),
    "HardSwish": _unary(lambda a: layers.HardSwish()),
    "Gelu": _unary(lambda a: nn.GELU(a.get("approximate", "none"))),
    "Clip": clip,
    "Softmax": _softmax(nn.Softmax),
    "LogSoftmax": _softmax(nn.LogSoftmax),
    "Add": add,
    "Sum": total,
    "Mul": mul,
    "Sub": sub_or_div,
    "Div": sub_or_div,
    "Concat": concat,
    "Flatten": flatten,
    "Reshape": reshape,
    "Squeeze": squeeze_unsqueeze,
    "Unsqueeze": squeeze_unsqueeze,
    "Transpose": transpose,
    "Slice": slice_array,
    "Pad": pad,
    "ReduceMean": reduce_mean,
}
