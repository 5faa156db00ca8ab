"""ONNX forms of the 1-d layers: Conv1d, MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d.

strided computes each as its 2-d layer on (N, C, 1, L) (strided/nn/layers1d.py). Conv1d is written as
ONNX's 1-d Conv (an (N, C, L) input, kernel_shape [K]) so that its weight keeps the layer's
(C_out, C_in/groups, K) shape and state-dict name; the pools, which have no weights, are the 2-d forms
of the layer's inner 2-d pool between an Unsqueeze and a Squeeze of axis 2, which reuses their
ceil_mode and count_include_pad handling (export_spatial) unchanged.
"""

from .. import nn
from .builder import Traced
from .errors import OnnxError
from .export_spatial import SPATIAL_LAYERS, conv_pads, emit_pad


def _unsqueeze(b, x: str, scope: str) -> str:
    return b.node("Unsqueeze", [x, b.ints([2], f"{scope}.axis")], scope)


def _squeeze(b, x: str, scope: str) -> str:
    return b.node("Squeeze", [x, b.ints([2], f"{scope}.axis")], scope)


def conv1d(b, conv, scope, xs, y):
    x = xs[0].name
    left, right, _, _ = conv_pads(conv._inner)  # the 1-d padding, as the inner (1, K) convolution holds it
    if conv.padding_mode != "zeros":  # the mode's border (a 2-d Pad on (N, C, 1, L)), then an unpadded Conv
        x = _squeeze(b, emit_pad(b, _unsqueeze(b, x, scope), (left, right, 0, 0), conv.padding_mode, scope), scope)
        left = right = 0
    inputs = [x, b.parameter(f"{scope}.weight", conv.weight.data)]
    if conv.bias is not None:
        inputs.append(b.parameter(f"{scope}.bias", conv.bias.data))
    return b.node("Conv", inputs, scope, kernel_shape=list(conv.kernel_size), strides=list(conv.stride),
                  dilations=list(conv.dilation), group=conv.groups, pads=[left, right])


def pool1d(b, pool, scope, xs, y):
    x = xs[0]
    inner = pool._inner
    x4 = Traced(_unsqueeze(b, x.name, scope), x.value[:, :, None, :])
    try:
        y4 = SPATIAL_LAYERS[type(inner)](b, inner, scope, [x4], y[:, :, None, :])
    except OnnxError as error:  # the 2-d layer's refusal, under the 1-d layer's name
        raise OnnxError(str(error).replace(inner.label(), pool.label())) from None
    return _squeeze(b, y4, scope)


LAYERS_1D = {nn.Conv1d: conv1d, nn.MaxPool1d: pool1d, nn.AvgPool1d: pool1d, nn.AdaptiveAvgPool1d: pool1d,
             nn.AdaptiveMaxPool1d: pool1d}
