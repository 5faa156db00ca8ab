"""ONNX forms of the per-sample normalisations: LayerNorm, LayerNorm2d, GroupNorm.

Same calling convention as export_spatial. The forms, and why:

- LayerNorm: ONNX's LayerNormalization (axis = -len(normalized_shape)) from opset 17, where it exists.
  Below 17 it is InstanceNormalization over x reshaped to (N, R, M), M the normalised size and R the
  rows of a sample: instance norm normalises each (sample, channel) over the rest, here each row.
- LayerNorm2d: Transpose to NHWC, the LayerNorm above over the last axis, Transpose back.
- GroupNorm: x reshaped to (N, G, -1), InstanceNormalization (each sample's group over its channels and
  positions), reshaped back to x's shape, then weight and bias per channel (Mul, Add). ONNX's own
  GroupNormalization exists only from opset 18 and takes a scale per group until 21 (per channel, as
  PyTorch's, only from 21; onnxruntime 1.32 runs both); InstanceNormalization is the same at every opset
  from 13, so the graph does not depend on the opset, and strided's import reads it back.
"""

import numpy as np

from .. import nn
from .builder import Traced
from .errors import OnnxError


def _scale_and_bias(b, layer, scope, shape):
    """The layer's weight and bias initializers, or ones and zeros of ``shape`` when it has none."""
    weight = (b.parameter(f"{scope}.weight", layer.weight.data) if layer.weight is not None
              else b.constant(np.ones(shape, b.dtype), f"{scope}.ones"))
    bias = (b.parameter(f"{scope}.bias", layer.bias.data) if layer.bias is not None
            else b.constant(np.zeros(shape, b.dtype), f"{scope}.zeros"))
    return weight, bias


def _instance_norm_rows(b, x, target, eps: float, scope: str) -> str:
    """InstanceNormalization over x (Traced) reshaped to ``target`` (batch, channels, values), reshaped back.

    Both shapes copy the batch (0) and fix the rest: the batch stays dynamic, and an import reads them as
    ordinary Reshapes (a Shape of x would be folded at import with a batch of 1)."""
    rows = b.node("Reshape", [x.name, b.ints(target, f"{scope}.rows_shape")], scope)
    channels = target[1]
    normed = b.node("InstanceNormalization", [rows, b.constant(np.ones(channels, b.dtype), f"{scope}.ones"),
                                              b.constant(np.zeros(channels, b.dtype), f"{scope}.zeros")],
                    scope, epsilon=eps)
    return b.node("Reshape", [normed, b.ints([0, *x.value.shape[1:]], f"{scope}.shape")], scope)


def _layer_norm(b, layer, scope, x) -> str:
    axes = len(layer.normalized_shape)
    weight, bias = _scale_and_bias(b, layer, scope, layer.normalized_shape)
    if b.opset >= 17:
        return b.node("LayerNormalization", [x.name, weight, bias], scope, axis=-axes, epsilon=layer.eps)
    if x.value.ndim == axes:
        raise OnnxError(f"{layer.label()}: normalising over the batch axis too needs LayerNormalization: "
                        "export with opset >= 17")
    rows = int(np.prod(x.value.shape[1:x.value.ndim - axes]))  # every row of every sample: a channel of its own
    normed = _instance_norm_rows(b, x, [0, rows, int(np.prod(layer.normalized_shape))], layer.eps, scope)
    return b.node("Add", [b.node("Mul", [normed, weight], scope), bias], scope)


def layer_norm(b, layer, scope, xs, y):
    return _layer_norm(b, layer, scope, xs[0])


def layer_norm_2d(b, layer, scope, xs, y):
    nhwc = Traced(b.node("Transpose", [xs[0].name], scope, perm=[0, 2, 3, 1]), xs[0].value.transpose(0, 2, 3, 1))
    return b.node("Transpose", [_layer_norm(b, layer, scope, nhwc)], scope, perm=[0, 3, 1, 2])


def group_norm(b, layer, scope, xs, y):
    x = xs[0]
    normed = _instance_norm_rows(b, x, [0, layer.num_groups, -1], layer.eps, scope)
    if not layer.affine:
        return normed
    per_channel = (layer.num_channels,) + (1,) * (x.value.ndim - 2)  # broadcast over the positions
    weight = b.node("Reshape", [b.parameter(f"{scope}.weight", layer.weight.data),
                                b.ints(per_channel, f"{scope}.channel_shape")], scope)
    bias = b.node("Reshape", [b.parameter(f"{scope}.bias", layer.bias.data),
                              b.ints(per_channel, f"{scope}.channel_shape")], scope)
    return b.node("Add", [b.node("Mul", [normed, weight], scope), bias], scope)


NORM_LAYERS = {nn.LayerNorm: layer_norm, nn.LayerNorm2d: layer_norm_2d, nn.GroupNorm: group_norm}
