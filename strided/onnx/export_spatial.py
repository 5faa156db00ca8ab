"""ONNX forms of the spatial layers: Conv2d, the pooling layers and the padding layers.

Each function takes the builder, the layer, its scope (module path), the traced inputs and the
traced output, emits the nodes and returns the output's ONNX name. ONNX orders 2-D pads as
[top, left, bottom, right]; strided and PyTorch as (left, right, top, bottom) for padding layers
and (h, w) for symmetric padding.
"""

import numpy as np

from .. import nn
from .errors import OnnxError

PAD_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "edge"}


def hw_pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair as (h, w)."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    return int(value[0]), int(value[1])


def conv_pads(conv) -> tuple[int, int, int, int]:
    """Conv2d's zero padding as (left, right, top, bottom); 'same' puts the odd pixel right/bottom."""
    if conv.padding == "valid":
        return (0, 0, 0, 0)
    if conv.padding == "same":
        (kh, kw), (dh, dw) = conv.kernel_size, conv.dilation
        total_h, total_w = dh * (kh - 1), dw * (kw - 1)
        return (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
    ph, pw = conv.padding
    return (pw, pw, ph, ph)


def onnx_pads(left: int, right: int, top: int, bottom: int) -> list[int]:
    return [top, left, bottom, right]


def emit_pad(b, x: str, pads, mode: str, scope: str, value: float = 0.0) -> str:
    """Pad the last two axes of x by (left, right, top, bottom) with ``mode``: a Pad node, or for
    'circular' two Slice + Concat pairs (Pad's 'wrap' mode needs opset 19; this works from 13)."""
    left, right, top, bottom = pads
    if mode == "circular":
        if min(pads) < 0:
            raise OnnxError(f"{scope or 'padding'}: circular padding with negative (cropping) amounts has no ONNX form")
        for axis, before, after in ((3, left, right), (2, top, bottom)):
            parts = [x]
            if before:
                parts.insert(0, _slice(b, x, -before, np.iinfo(np.int64).max, axis, scope))
            if after:
                parts.append(_slice(b, x, 0, after, axis, scope))
            if len(parts) > 1:
                x = b.node("Concat", parts, scope, axis=axis)
        return x
    pad_list = [0, 0, top, left, 0, 0, bottom, right]
    inputs = [x, b.ints(pad_list, f"{scope}.pads")]
    if PAD_MODES[mode] == "constant" and value != 0:
        inputs.append(b.scalar(value, f"{scope}.pad_value"))
    return b.node("Pad", inputs, scope, mode=PAD_MODES[mode])


def _slice(b, x: str, start: int, end: int, axis: int, scope: str) -> str:
    return b.node("Slice", [x, b.ints([start], f"{scope}.starts"), b.ints([end], f"{scope}.ends"),
                            b.ints([axis], f"{scope}.axes")], scope)


def conv2d(b, conv, scope, xs, y):
    x = xs[0].name
    pads = conv_pads(conv)
    if conv.padding_mode != "zeros":  # the mode's border first, then an unpadded convolution
        x = emit_pad(b, x, pads, conv.padding_mode, scope)
        pads = (0, 0, 0, 0)
    inputs = [x, b.parameter(f"{scope}.weight", conv.weight.data)]
    if conv.bias is not None:
        inputs.append(b.parameter(f"{scope}.bias", conv.bias.data))
    return b.node("Conv", inputs, scope, kernel_shape=list(conv.kernel_size), strides=list(conv.stride),
                  dilations=list(conv.dilation), group=conv.groups, pads=onnx_pads(*pads))


def _pool_attributes(in_hw, out_hw, kernel, stride, padding, dilations, ceil_mode: bool) -> dict:
    """kernel_shape, strides, pads, ceil_mode and dilations that give strided's (PyTorch's) output size.

    PyTorch's ceil_mode drops a last window that would start in the right padding; ONNX's does not.
    Where that rule drops one, the same windows come from ceil_mode=0 and just enough padding at
    the end (ignored by MaxPool, not counted by AveragePool with count_include_pad=0).
    """
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilations, strict=True)]
    geometry = list(zip(in_hw, out_hw, stride, padding, spans, strict=True))
    rounding = _ceil_div if ceil_mode else int.__floordiv__
    end, onnx_ceil = list(padding), int(ceil_mode)
    if any(rounding(size + 2 * p - span, s) + 1 != out for size, out, s, p, span in geometry):
        end, onnx_ceil = [max((out - 1) * s + span - size - p, 0) for size, out, s, p, span in geometry], 0
    return {"kernel_shape": list(kernel), "strides": list(stride), "pads": list(padding) + end,
            "ceil_mode": onnx_ceil, "dilations": list(dilations)}


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def max_pool2d(b, pool, scope, xs, y):
    x = xs[0]
    kernel, padding, dilations = hw_pair(pool.kernel_size), hw_pair(pool.padding), hw_pair(pool.dilation)
    attributes = _pool_attributes(x.value.shape[2:], y.shape[2:], kernel, hw_pair(pool.stride), padding, dilations,
                                  pool.ceil_mode)
    top, left, bottom, right = attributes["pads"]
    if bottom >= kernel[0] or right >= kernel[1]:  # onnxruntime wants pads < kernel: pad with -inf first
        name = emit_pad(b, x.name, (left, right, top, bottom), "constant", scope, float("-inf"))
        attributes["pads"] = [0, 0, 0, 0]
        return b.node("MaxPool", [name], scope, **attributes)
    return b.node("MaxPool", [x.name], scope, **attributes)


def avg_pool2d(b, pool, scope, xs, y):
    """PyTorch divides by the window's positions inside input + padding (count_include_pad) or inside the
    input; the first is ONNX's count_include_pad=0 over an input zero-padded beforehand, which also gets
    ceil_mode's partial windows right."""
    x, kernel, padding = xs[0].name, hw_pair(pool.kernel_size), hw_pair(pool.padding)
    in_hw = xs[0].value.shape[2:]
    if max(padding) > 0 and (pool.count_include_pad or pool.divisor_override is not None):
        x = emit_pad(b, x, (padding[1], padding[1], padding[0], padding[0]), "zeros", scope)
        in_hw, padding = (in_hw[0] + 2 * padding[0], in_hw[1] + 2 * padding[1]), (0, 0)
    attributes = _pool_attributes(in_hw, y.shape[2:], kernel, hw_pair(pool.stride), padding, (1, 1), pool.ceil_mode)
    del attributes["dilations"]
    mean = b.node("AveragePool", [x], scope, count_include_pad=0, **attributes)
    if pool.divisor_override is None:
        return mean
    # sum / divisor = mean over the whole window * (K_h * K_w / divisor), true where every window lies
    # inside the (explicitly) padded input, i.e. without ceil_mode; with it the divisor has no ONNX form.
    if pool.ceil_mode:
        raise OnnxError(f"{pool.label()}: divisor_override together with ceil_mode has no ONNX form")
    return b.node("Mul", [mean, b.scalar(kernel[0] * kernel[1] / pool.divisor_override, f"{scope}.scale")], scope)


def _adaptive_windows_uniform(size: int, out: int) -> bool:
    return size % out == 0


def adaptive_avg_pool2d(b, pool, scope, xs, y):
    (h, w), (oh, ow) = xs[0].value.shape[2:], y.shape[2:]
    if (oh, ow) == (1, 1):
        return b.node("GlobalAveragePool", [xs[0].name], scope)
    if _adaptive_windows_uniform(h, oh) and _adaptive_windows_uniform(w, ow):
        kernel = [h // oh, w // ow]
        return b.node("AveragePool", [xs[0].name], scope, kernel_shape=kernel, strides=kernel)
    # Uneven windows: averaging is linear, y = A_h x A_w^T with A[i, j] = 1/|window i| on window i.
    right = b.node("MatMul", [xs[0].name, b.constant(averaging_matrix(w, ow, b.dtype).T, f"{scope}.cols")], scope)
    return b.node("MatMul", [b.constant(averaging_matrix(h, oh, b.dtype), f"{scope}.rows"), right], scope)


def averaging_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size): row i averages the adaptive window floor(i*size/out) .. ceil((i+1)*size/out)."""
    matrix = np.zeros((out, size), dtype=np.float64)
    for i in range(out):  # a loop over output positions of a constant, built once at export
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix.astype(dtype)


def adaptive_max_pool2d(b, pool, scope, xs, y):
    (h, w), (oh, ow) = xs[0].value.shape[2:], y.shape[2:]
    if (oh, ow) == (1, 1):
        return b.node("GlobalMaxPool", [xs[0].name], scope)
    if _adaptive_windows_uniform(h, oh) and _adaptive_windows_uniform(w, ow):
        kernel = [h // oh, w // ow]
        return b.node("MaxPool", [xs[0].name], scope, kernel_shape=kernel, strides=kernel)
    raise OnnxError(f"{pool.label()}: adaptive max pooling of {h}x{w} to {oh}x{ow} has uneven windows, which no "
                    "ONNX pooling expresses; export with an input size divisible by the output size")


def global_avg_pool2d(b, pool, scope, xs, y):
    return b.node("GlobalAveragePool", [xs[0].name], scope)


def global_max_pool2d(b, pool, scope, xs, y):
    return b.node("GlobalMaxPool", [xs[0].name], scope)


def fractional_max_pool2d(b, pool, scope, xs, y):
    raise OnnxError(f"{pool.label()}: fractional max pooling draws random windows at every call; ONNX has no "
                    "faithful form of it (replace it by MaxPool2d before exporting)")


def pad_layer(b, layer, scope, xs, y):
    return emit_pad(b, xs[0].name, layer.padding, layer.mode, scope, layer.value)


SPATIAL_LAYERS = {
    nn.Conv2d: conv2d,
    nn.MaxPool2d: max_pool2d,
    nn.AvgPool2d: avg_pool2d,
    nn.AdaptiveAvgPool2d: adaptive_avg_pool2d,
    nn.AdaptiveMaxPool2d: adaptive_max_pool2d,
    nn.GlobalAvgPool2d: global_avg_pool2d,
    nn.GlobalMaxPool2d: global_max_pool2d,
    nn.FractionalMaxPool2d: fractional_max_pool2d,
    nn.ZeroPad2d: pad_layer,
    nn.ConstantPad2d: pad_layer,
    nn.ReflectionPad2d: pad_layer,
    nn.ReplicationPad2d: pad_layer,
    nn.CircularPad2d: pad_layer,
}
