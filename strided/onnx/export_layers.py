"""ONNX forms of the pointwise and shape layers: batch norm, activations, Linear, Flatten, Add, Concat.

Same calling convention as export_spatial: ``(builder, layer, scope, traced inputs, traced output)``
-> the output's ONNX name. Every form is eval-mode: batch norm with its running statistics.
"""

import math

import numpy as np

from .. import nn
from . import layers as onnx_layers
from .errors import OnnxError
from .export_1d import LAYERS_1D
from .export_norm import NORM_LAYERS
from .export_resample import RESAMPLE_LAYERS
from .export_spatial import SPATIAL_LAYERS


def batch_norm(b, bn, scope, xs, y):
    if bn.running_mean is None:
        raise OnnxError(f"{bn.label()}: with track_running_stats=False it normalises with each batch's statistics "
                        "even in eval mode; ONNX's BatchNormalization needs running statistics")
    c = bn.num_features
    weight = (b.parameter(f"{scope}.weight", bn.weight.data) if bn.weight is not None
              else b.constant(np.ones(c, b.dtype), f"{scope}.ones"))
    bias = (b.parameter(f"{scope}.bias", bn.bias.data) if bn.bias is not None
            else b.constant(np.zeros(c, b.dtype), f"{scope}.zeros"))
    mean = b.parameter(f"{scope}.running_mean", bn.running_mean)
    var = b.parameter(f"{scope}.running_var", bn.running_var)
    # ONNX's momentum weighs the old running value (PyTorch's weighs the new batch): 1 - momentum.
    momentum = 0.9 if bn.momentum is None else 1.0 - bn.momentum
    return b.node("BatchNormalization", [xs[0].name, weight, bias, mean, var], scope, epsilon=bn.eps,
                  momentum=momentum)


def unary(op: str, **fixed):
    def emit(b, layer, scope, xs, y):
        return b.node(op, [xs[0].name], scope, **fixed)
    return emit


def leaky_relu(b, layer, scope, xs, y):
    return b.node("LeakyRelu", [xs[0].name], scope, alpha=layer.negative_slope)


def elu(b, layer, scope, xs, y):
    return b.node("Elu", [xs[0].name], scope, alpha=layer.alpha)


def gelu(b, layer, scope, xs, y):
    """x * Phi(x) from ONNX primitives, so that it runs from opset 13 (ONNX's own Gelu needs 20)."""
    x = xs[0].name
    if layer.approximate == "none":  # Phi(x) = (1 + erf(x / sqrt 2)) / 2
        inner = b.node("Erf", [b.node("Div", [x, b.scalar(math.sqrt(2.0), f"{scope}.sqrt2")], scope)], scope)
    else:  # tanh(sqrt(2/pi) * (x + 0.044715 x^3))
        cube = b.node("Mul", [x, b.node("Mul", [x, x], scope)], scope)
        poly = b.node("Add", [x, b.node("Mul", [cube, b.scalar(0.044715, f"{scope}.c")], scope)], scope)
        inner = b.node("Tanh", [b.node("Mul", [poly, b.scalar(math.sqrt(2.0 / math.pi), f"{scope}.k")], scope)],
                       scope)
    half_x = b.node("Mul", [x, b.scalar(0.5, f"{scope}.half")], scope)
    return b.node("Mul", [half_x, b.node("Add", [inner, b.scalar(1.0, f"{scope}.one")], scope)], scope)


def softmax_like(op: str):
    def emit(b, layer, scope, xs, y):
        ndim = xs[0].value.ndim
        # dim=None is PyTorch's legacy choice, which the layer follows: 0 for rank 0, 1 and 3, else 1.
        axis = (0 if ndim in (0, 1, 3) else 1) if layer.dim is None else layer.dim % ndim
        return b.node(op, [xs[0].name], scope, axis=axis)
    return emit


def linear(b, layer, scope, xs, y):
    x = xs[0]
    weight = b.parameter(f"{scope}.weight", layer.weight.data)
    bias = None if layer.bias is None else b.parameter(f"{scope}.bias", layer.bias.data)
    if x.value.ndim == 2:
        return b.node("Gemm", [x.name, weight] + ([bias] if bias else []), scope, transB=1)
    out = b.node("MatMul", [x.name, b.node("Transpose", [weight], scope, perm=[1, 0])], scope)
    return b.node("Add", [out, bias], scope) if bias else out


def flatten(b, layer, scope, xs, y):
    x = xs[0]
    ndim = x.value.ndim
    start, end = layer.start_dim % ndim, layer.end_dim % ndim
    if end == ndim - 1:
        if start == 1:
            return b.node("Flatten", [x.name], scope, axis=1)
    # Reshape: 0 copies the batch (and any leading) size, -1 is the merged one, the rest are fixed.
    target = [0] * start + [-1] + list(y.shape[start + 1:])
    return b.node("Reshape", [x.name, b.ints(target, f"{scope}.shape")], scope)


def add(b, layer, scope, xs, y):
    if len(xs) == 1:
        return b.node("Identity", [xs[0].name], scope)
    return b.node("Add" if len(xs) == 2 else "Sum", [x.name for x in xs], scope)


def concat(b, layer, scope, xs, y):
    return b.node("Concat", [x.name for x in xs], scope, axis=layer.dim % xs[0].value.ndim)


def passthrough(b, layer, scope, xs, y):
    """Identity, and Dropout in eval mode: no node at all; the output is the input."""
    return xs[0].name


def clip(b, layer, scope, xs, y):
    bounds = ["" if v is None else b.scalar(v, f"{scope}.bound") for v in (layer.min, layer.max)]
    while bounds and bounds[-1] == "":
        bounds.pop()
    return b.node("Clip", [xs[0].name, *bounds], scope)


def hardtanh(b, layer, scope, xs, y):
    """Hardtanh and ReLU6: Clip(min_val, max_val)."""
    bounds = [b.scalar(layer.min_val, f"{scope}.min"), b.scalar(layer.max_val, f"{scope}.max")]
    return b.node("Clip", [xs[0].name, *bounds], scope)


def hard_sigmoid(b, layer, scope, xs, y):
    return b.node("HardSigmoid", [xs[0].name], scope, alpha=layer.alpha, beta=layer.beta)


def hard_swish(b, layer, scope, xs, y):
    """x * HardSigmoid(x) with alpha 1/6 (ONNX's own HardSwish needs opset 14)."""
    gate = b.node("HardSigmoid", [xs[0].name], scope, alpha=1.0 / 6.0, beta=0.5)
    return b.node("Mul", [xs[0].name, gate], scope)


def binary(op: str):
    def emit(b, layer, scope, xs, y):
        return b.node(op, [x.name for x in xs], scope)
    return emit


def with_constant(op: str):
    def emit(b, layer, scope, xs, y):
        value = b.parameter(f"{scope}.value", np.asarray(layer.value, dtype=b.dtype))
        return b.node(op, [xs[0].name, value], scope)
    return emit


def reshape(b, layer, scope, xs, y):
    return b.node("Reshape", [xs[0].name, b.ints(layer.shape, f"{scope}.shape")], scope)


def slice_layer(b, layer, scope, xs, y):
    inputs = [xs[0].name] + [b.ints(v, f"{scope}.{n}") for n, v in (("starts", layer.starts), ("ends", layer.ends),
                                                                    ("axes", layer.axes), ("steps", layer.steps))]
    return b.node("Slice", inputs, scope)


def transpose(b, layer, scope, xs, y):
    return b.node("Transpose", [xs[0].name], scope, perm=list(layer.perm))


LAYERS = {
    **SPATIAL_LAYERS,
    **LAYERS_1D,
    **RESAMPLE_LAYERS,
    **NORM_LAYERS,
    nn.Hardtanh: hardtanh,
    nn.ReLU6: hardtanh,
    nn.BatchNorm1d: batch_norm,
    nn.BatchNorm2d: batch_norm,
    nn.ReLU: unary("Relu"),
    nn.Sigmoid: unary("Sigmoid"),
    nn.Tanh: unary("Tanh"),
    nn.LeakyReLU: leaky_relu,
    nn.ELU: elu,
    nn.GELU: gelu,
    nn.Softmax: softmax_like("Softmax"),
    nn.LogSoftmax: softmax_like("LogSoftmax"),
    nn.Linear: linear,
    nn.Flatten: flatten,
    nn.Add: add,
    nn.Concat: concat,
    nn.Identity: passthrough,
    nn.Dropout: passthrough,
    nn.Dropout2d: passthrough,
    # the layers ONNX imports build, so that an imported model exports again
    onnx_layers.Clip: clip,
    onnx_layers.HardSigmoid: hard_sigmoid,
    onnx_layers.HardSwish: hard_swish,
    onnx_layers.Mul: binary("Mul"),
    onnx_layers.AddConstant: with_constant("Add"),
    onnx_layers.MulConstant: with_constant("Mul"),
    onnx_layers.Reshape: reshape,
    onnx_layers.Transpose: transpose,
    onnx_layers.Slice: slice_layer,
}
