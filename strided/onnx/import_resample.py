"""ONNX operators that make maps larger -> strided layers: ConvTranspose -> ConvTranspose2d, Resize -> Upsample.

Same calling convention as import_ops. ConvTranspose's pads crop the full transposed convolution;
symmetric pads are the layer's ``padding``, asymmetric ones a crop after it (a ZeroPad2d of negative
amounts). Resize imports in the forms PyTorch's F.interpolate exports (see export_resample.py for the
correspondence); other coordinate modes, cubic interpolation and antialiasing are refused by name.
"""

import numpy as np

from .. import nn
from .errors import OnnxError


def _fail(node, message: str) -> OnnxError:
    return OnnxError(f"node {node.name!r} ({node.op_type}): {message}")


def _transpose_pads(node, attrs, in_hw, kernel, strides, dilations, output_padding):
    """(top, left, bottom, right) from ``pads``, or from ``output_shape`` / ``auto_pad`` by ONNX's rule:
    total = stride*(in - 1) + output_padding + (k - 1)*d + 1 - out, the odd pixel at the end for SAME_UPPER."""
    auto = attrs.get("auto_pad", "NOTSET")
    if "output_shape" not in attrs and auto in ("NOTSET", "VALID"):
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])] if auto == "NOTSET" else [0, 0, 0, 0]
        if len(pads) != 4:
            raise _fail(node, f"expected 4 pads, got {pads}")
        return tuple(pads)
    out_hw = [int(s) for s in attrs["output_shape"]][-2:] if "output_shape" in attrs else [
        size * s for size, s in zip(in_hw, strides, strict=True)]
    before, after = [], []
    for size, k, s, d, extra, out in zip(in_hw, kernel, strides, dilations, output_padding, out_hw, strict=True):
        total = s * (size - 1) + extra + (k - 1) * d + 1 - out
        if total < 0:
            raise _fail(node, f"output_shape {out_hw} is larger than the transposed convolution gives")
        small, big = total // 2, total - total // 2
        before.append(small if auto == "SAME_UPPER" else big)
        after.append(big if auto == "SAME_UPPER" else small)
    return before[0], before[1], after[0], after[1]


def conv_transpose(importer, node, attrs):
    x = importer.tensor(node, 0)
    weight, bias = importer.constant(node, 1), importer.constant(node, 2)
    if x.value.ndim != 4 or weight.ndim != 4:
        raise _fail(node, f"only 2-D transposed convolutions import (NCHW input, 4-d weight), got an input of "
                          f"shape {x.value.shape} and a weight of shape {weight.shape}")
    in_channels, group_out, kh, kw = weight.shape
    groups = int(attrs.get("group", 1))
    strides = tuple(int(s) for s in attrs.get("strides", [1, 1]))
    dilations = tuple(int(d) for d in attrs.get("dilations", [1, 1]))
    output_padding = tuple(int(p) for p in attrs.get("output_padding", [0, 0]))
    top, left, bottom, right = _transpose_pads(node, attrs, x.value.shape[2:], (kh, kw), strides, dilations,
                                               output_padding)
    symmetric = (top, left) == (bottom, right)
    try:
        layer = nn.ConvTranspose2d(in_channels, group_out * groups, (kh, kw), stride=strides,
                                   padding=(top, left) if symmetric else 0, output_padding=output_padding,
                                   groups=groups, bias=bias is not None, dilation=dilations)
    except ValueError as error:
        raise _fail(node, str(error)) from None
    layer.weight.data = importer.parameter(weight)
    if bias is not None:
        layer.bias.data = importer.parameter(bias)
    y = importer.add(layer, [x], node)
    if not symmetric:  # crop what the pads take off each side
        y = importer.add(nn.ZeroPad2d((-left, -right, -top, -bottom)), [y], node, "_crop")
    importer.bind(node, y)


def _upsample_mode(node, attrs, ndim: int):
    """(strided mode, align_corners) for the Resize attributes, or a refusal naming them."""
    mode = attrs.get("mode", "nearest")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    nearest_mode = attrs.get("nearest_mode", "round_prefer_floor")
    if attrs.get("antialias", 0) or attrs.get("exclude_outside", 0):
        raise _fail(node, "antialias and exclude_outside do not import")
    if mode == "nearest" and transform == "asymmetric" and nearest_mode == "floor":
        return "nearest", None
    if mode == "nearest" and transform in ("half_pixel", "pytorch_half_pixel") and nearest_mode == "round_prefer_ceil":
        return "nearest-exact", None
    if mode == "linear" and transform in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return ("bilinear" if ndim == 4 else "linear"), transform == "align_corners"
    raise _fail(node, f"mode {mode!r} with coordinate_transformation_mode {transform!r} (nearest_mode "
                      f"{nearest_mode!r}) does not import; strided imports PyTorch's F.interpolate forms: nearest "
                      "(asymmetric, floor), nearest-exact (half_pixel, round_prefer_ceil), (bi)linear (half_pixel, "
                      "pytorch_half_pixel or align_corners)")


def resize(importer, node, attrs):
    x = importer.tensor(node, 0)
    if x.value.ndim not in (3, 4):
        raise _fail(node, f"only (N, C, L) and (N, C, H, W) inputs import, got shape {x.value.shape}")
    if "axes" in attrs:
        raise _fail(node, "the axes attribute does not import")
    mode, align_corners = _upsample_mode(node, attrs, x.value.ndim)
    scales_index, sizes_index = (1, None) if importer.opset < 11 else (2, 3)
    scales = importer.constant(node, scales_index)
    sizes = None if sizes_index is None else importer.constant(node, sizes_index)
    kept = x.value.shape[:2]
    if sizes is not None and sizes.size:
        if tuple(sizes[1:2]) != kept[1:]:
            raise _fail(node, f"sizes {list(sizes)} change the channels of an input of shape {x.value.shape}")
        layer = nn.Upsample(size=tuple(int(s) for s in sizes[2:]), mode=mode, align_corners=align_corners)
    elif scales is not None and scales.size:
        if not np.all(scales[:2] == 1):
            raise _fail(node, f"scales {list(scales)} resize the batch or channel axis")
        layer = nn.Upsample(scale_factor=tuple(float(s) for s in scales[2:]), mode=mode, align_corners=align_corners)
    else:
        raise _fail(node, "neither scales nor sizes is given")
    importer.bind(node, importer.add(layer, [x], node))


RESAMPLE_CONVERTERS = {"ConvTranspose": conv_transpose, "Resize": resize}
