"""ONNX forms of the layers that make maps larger: ConvTranspose2d and Upsample (Resize).

Same calling convention as export_spatial: ``(builder, layer, scope, traced inputs, traced output)``
-> the output's ONNX name.

Resize follows PyTorch's own exporter, so that a runtime sees the form it is used to:

    nearest        coordinate_transformation_mode 'asymmetric', nearest_mode 'floor':   src = floor(i / scale)
    nearest-exact  'half_pixel', nearest_mode 'round_prefer_ceil':                     src = floor((i + 0.5) / scale)
    (bi)linear     'half_pixel' (src = (i + 0.5) / scale - 0.5, clamped at 0 by the linear mode), or 'align_corners'

with ``scales`` when the layer has a scale factor (PyTorch uses 1 / scale_factor then) and ``sizes`` when it
has an output size (PyTorch uses in / out then). The batch and channel entries of ``sizes`` come from the
input's Shape, so the batch stays dynamic.
"""

import numpy as np

from .. import nn
from .errors import OnnxError

RESIZE_MODES = {  # strided mode -> (ONNX mode, nearest_mode)
    "nearest": ("nearest", "floor"),
    "nearest-exact": ("nearest", "round_prefer_ceil"),
    "linear": ("linear", None),
    "bilinear": ("linear", None),
}


def conv_transpose2d(b, conv, scope, xs, y):
    """ONNX ConvTranspose has PyTorch's weight layout (C_in, C_out/groups, K_h, K_w) and output size rule:
    (H - 1)*stride - pad_begin - pad_end + dilation*(K - 1) + output_padding + 1.

    PyTorch allows output_padding < max(stride, dilation), onnxruntime only < stride. output_padding adds
    rows at the end that the padding would have cropped (while output_padding <= padding) and rows of bias
    alone beyond those: for output_padding >= stride the export writes that out, as an end pad smaller by
    output_padding, then a zero Pad of the rest and the bias added after it.
    """
    x = xs[0]
    weight = b.parameter(f"{scope}.weight", conv.weight.data)
    bias = None if conv.bias is None else b.parameter(f"{scope}.bias", conv.bias.data)
    # output_padding as the layer holds it; forward(x, output_size=...) may choose another, so take the
    # one that gives the traced output's size (the same when output_size was not used).
    output_padding = [out - (size - 1) * s + 2 * p - d * (k - 1) - 1 for out, size, s, p, d, k in zip(
        y.shape[2:], x.value.shape[2:], conv.stride, conv.padding, conv.dilation, conv.kernel_size, strict=True)]
    (ph, pw), geometry = conv.padding, {"kernel_shape": list(conv.kernel_size), "strides": list(conv.stride),
                                        "dilations": list(conv.dilation), "group": conv.groups}
    if all(extra < s for extra, s in zip(output_padding, conv.stride, strict=True)):
        return b.node("ConvTranspose", [x.name, weight] + ([bias] if bias else []), scope, pads=[ph, pw, ph, pw],
                      output_padding=output_padding, **geometry)
    (end_h, end_w), (beyond_h, beyond_w) = ([max(p - e, 0) for p, e in zip(conv.padding, output_padding, strict=True)],
                                            [max(e - p, 0) for p, e in zip(conv.padding, output_padding, strict=True)])
    out = b.node("ConvTranspose", [x.name, weight], scope, pads=[ph, pw, end_h, end_w], **geometry)
    if beyond_h or beyond_w:
        out = b.node("Pad", [out, b.ints([0, 0, 0, 0, 0, 0, beyond_h, beyond_w], f"{scope}.pads")], scope)
    if bias is None:
        return out
    return b.node("Add", [out, b.node("Unsqueeze", [bias, b.ints([1, 2], f"{scope}.axes")], scope)], scope)


def upsample(b, layer, scope, xs, y):
    x = xs[0]
    spatial = x.value.ndim - 2
    if layer.mode not in RESIZE_MODES:
        raise OnnxError(f"{layer.label()}: mode {layer.mode!r} has no ONNX Resize form in strided")
    mode, nearest_mode = RESIZE_MODES[layer.mode]
    if mode == "linear":
        # half_pixel, as PyTorch's exporter writes: pytorch_half_pixel would put an output of size 1 at
        # source 0, where PyTorch itself takes (in - 1) / 2
        transform = "align_corners" if layer.align_corners else "half_pixel"
    else:
        transform = "asymmetric" if layer.mode == "nearest" else "half_pixel"
    attributes = {"mode": mode, "coordinate_transformation_mode": transform}
    if nearest_mode is not None:
        attributes["nearest_mode"] = nearest_mode
    if layer.size is None and not layer.recompute_scale_factor:
        factors = layer.scale_factor if isinstance(layer.scale_factor, tuple) else (layer.scale_factor,) * spatial
        scales = b.constant(np.array([1.0, 1.0, *factors], dtype=np.float32), f"{scope}.scales")
        return b.node("Resize", [x.name, "", scales], scope, **attributes)
    # an output size (given, or computed from the scale factor with recompute_scale_factor): sizes
    batch_channels = b.node("Slice", [b.node("Shape", [x.name], scope), b.ints([0], f"{scope}.starts"),
                                      b.ints([2], f"{scope}.ends")], scope)
    sizes = b.node("Concat", [batch_channels, b.ints(list(y.shape[2:]), f"{scope}.size")], scope, axis=0)
    return b.node("Resize", [x.name, "", "", sizes], scope, **attributes)


RESAMPLE_LAYERS = {nn.ConvTranspose2d: conv_transpose2d, nn.Upsample: upsample, nn.UpsamplingNearest2d: upsample,
                   nn.UpsamplingBilinear2d: upsample}
