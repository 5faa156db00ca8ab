"""ONNX operators -> strided layers: the layers with weights and windows (Conv, pooling, BatchNormalization,
Gemm, MatMul) here, the elementwise and shape operators in import_pointwise.py, ConvTranspose and Resize
in import_resample.py.

A converter is ``converter(importer, node, attributes)``: it reads its inputs (``importer.tensor``
for arrays, ``importer.constant`` for weights), adds strided layers (``importer.add``) and binds
the node's output. ONNX orders 2-D pads [top, left, bottom, right]; symmetric pads go into the
layer, asymmetric ones into a padding layer before it.
"""

import numpy as np

from .. import nn
from .errors import OnnxError
from .export_spatial import averaging_matrix
from .import_pointwise import POINTWISE
from .import_resample import RESAMPLE_CONVERTERS


def _check_2d(node, x, what: str = "input") -> None:
    if x.value.ndim != 4:
        raise OnnxError(f"node {node.name!r} ({node.op_type}): strided imports the 2-D form only (NCHW {what}), "
                        f"got shape {x.value.shape}")


def resolve_pads(node, attrs, in_hw, kernel, strides, dilations) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd pixel after)."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "NOTSET":
        pads = [int(p) for p in attrs.get("pads", [0, 0, 0, 0])]
        if len(pads) != 4:
            raise OnnxError(f"node {node.name!r} ({node.op_type}): expected 4 pads, got {pads}")
        return tuple(pads)
    if auto == "VALID":
        return (0, 0, 0, 0)
    before, after = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations, strict=True):
        out = -(-size // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        before.append(small if auto == "SAME_UPPER" else big)
        after.append(big if auto == "SAME_UPPER" else small)
    return before[0], before[1], after[0], after[1]


def _geometry(node, attrs, x, kernel):
    strides = [int(s) for s in attrs.get("strides", [1, 1])]
    dilations = [int(d) for d in attrs.get("dilations", [1, 1])]
    pads = resolve_pads(node, attrs, x.value.shape[2:], kernel, strides, dilations)
    return tuple(strides), tuple(dilations), pads


def conv(importer, node, attrs):
    x = importer.tensor(node, 0)
    weight, bias = importer.constant(node, 1), importer.constant(node, 2)
    if x.value.ndim == 3 and weight.ndim == 3:
        return _conv1d(importer, node, attrs, x, weight, bias)
    _check_2d(node, x)
    if weight.ndim != 4:
        raise OnnxError(f"node {node.name!r} (Conv): only 2-D convolutions import, got a weight of shape "
                        f"{weight.shape}")
    out_channels, group_channels, kh, kw = weight.shape
    groups = int(attrs.get("group", 1))
    stride, dilation, (top, left, bottom, right) = _geometry(node, attrs, x, (kh, kw))
    padding = (top, left)
    if (top, left) != (bottom, right):
        x = importer.add(nn.ZeroPad2d((left, right, top, bottom)), [x], node, "_pad")
        padding = 0
    layer = nn.Conv2d(group_channels * groups, out_channels, (kh, kw), stride=stride, padding=padding,
                      dilation=dilation, groups=groups, bias=bias is not None)
    layer.weight.data = importer.parameter(weight)
    if bias is not None:
        layer.bias.data = importer.parameter(bias)
    importer.bind(node, importer.add(layer, [x], node))


def _conv1d(importer, node, attrs, x, weight, bias):
    """A 1-d Conv (N, C, L) with symmetric pads: Conv1d."""
    out_channels, group_channels, kernel = weight.shape
    groups = int(attrs.get("group", 1))
    auto = attrs.get("auto_pad", "NOTSET")
    pads = [0, 0] if auto == "VALID" else [int(p) for p in attrs.get("pads", [0, 0])]
    if auto not in ("NOTSET", "VALID") or len(pads) != 2 or pads[0] != pads[1]:
        raise OnnxError(f"node {node.name!r} (Conv): a 1-d convolution imports with symmetric pads only, got "
                        f"auto_pad {auto!r} and pads {pads}")
    (stride,), (dilation,) = attrs.get("strides", [1]), attrs.get("dilations", [1])
    layer = nn.Conv1d(group_channels * groups, out_channels, kernel, stride=int(stride), padding=pads[0],
                      dilation=int(dilation), groups=groups, bias=bias is not None)
    layer.weight.data = importer.parameter(weight)
    if bias is not None:
        layer.bias.data = importer.parameter(bias)
    importer.bind(node, importer.add(layer, [x], node))


def _pool_window(node, attrs, x):
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    if len(kernel) != 2:
        raise OnnxError(f"node {node.name!r} ({node.op_type}): only 2-D pooling imports, got kernel {kernel}")
    _check_2d(node, x)
    return kernel, *_geometry(node, attrs, x, kernel)


def max_pool(importer, node, attrs):
    x = importer.tensor(node, 0)
    if len(node.output) > 1 and node.output[1]:
        raise OnnxError(f"node {node.name!r} (MaxPool): the Indices output does not import")
    kernel, stride, dilation, (top, left, bottom, right) = _pool_window(node, attrs, x)
    ceil_mode = bool(attrs.get("ceil_mode", 0))
    padding = (top, left)
    if (top, left) != (bottom, right) or top > kernel[0] // 2 or left > kernel[1] // 2:
        if ceil_mode:
            raise OnnxError(f"node {node.name!r} (MaxPool): asymmetric pads with ceil_mode do not import")
        x = importer.add(nn.ConstantPad2d((left, right, top, bottom), float("-inf")), [x], node, "_pad")
        padding = 0  # -inf never wins a window, as ONNX's ignored padding
    layer = nn.MaxPool2d(kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
    importer.bind(node, importer.add(layer, [x], node))


def average_pool(importer, node, attrs):
    x = importer.tensor(node, 0)
    kernel, stride, dilation, (top, left, bottom, right) = _pool_window(node, attrs, x)
    if dilation != (1, 1):
        raise OnnxError(f"node {node.name!r} (AveragePool): dilations {dilation} do not import")
    include_pad, ceil_mode = bool(attrs.get("count_include_pad", 0)), bool(attrs.get("ceil_mode", 0))
    padding = (top, left)
    if (top, left) != (bottom, right) or top > kernel[0] // 2 or left > kernel[1] // 2:
        if ceil_mode or not include_pad:
            raise OnnxError(f"node {node.name!r} (AveragePool): asymmetric pads import only with "
                            "count_include_pad=1 and without ceil_mode")
        x = importer.add(nn.ZeroPad2d((left, right, top, bottom)), [x], node, "_pad")
        padding = 0
    layer = nn.AvgPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode, count_include_pad=include_pad)
    importer.bind(node, importer.add(layer, [x], node))


def global_pool(layer_class):
    def convert(importer, node, attrs):
        x = importer.tensor(node, 0)
        _check_2d(node, x)
        importer.bind(node, importer.add(layer_class(), [x], node))
    return convert


def batch_normalization(importer, node, attrs):
    x = importer.tensor(node, 0)
    scale, bias, mean, var = (importer.constant(node, i) for i in range(1, 5))
    if attrs.get("training_mode", 0):
        raise OnnxError(f"node {node.name!r} (BatchNormalization): training_mode=1 does not import")
    layer_class = {4: nn.BatchNorm2d, 2: nn.BatchNorm1d, 3: nn.BatchNorm1d}.get(x.value.ndim)
    if layer_class is None:
        raise OnnxError(f"node {node.name!r} (BatchNormalization): input of rank {x.value.ndim} does not import")
    # ONNX's momentum weighs the running value, PyTorch's (and strided's) the new batch.
    layer = layer_class(scale.shape[0], eps=float(attrs.get("epsilon", 1e-5)),
                        momentum=float(str(np.float32(1.0 - attrs.get("momentum", 0.9)))))
    layer.weight.data, layer.bias.data = importer.parameter(scale), importer.parameter(bias)
    layer.running_mean, layer.running_var = importer.parameter(mean), importer.parameter(var)
    importer.bind(node, importer.add(layer, [x], node))


def instance_normalization(importer, node, attrs):
    """Each (sample, channel) normalised over its positions, then scale and bias per channel: GroupNorm(C, C)."""
    x = importer.tensor(node, 0)
    scale, bias = importer.constant(node, 1), importer.constant(node, 2)
    if x.value.ndim < 3:
        raise OnnxError(f"node {node.name!r} (InstanceNormalization): input of rank {x.value.ndim} does not import")
    layer = nn.GroupNorm(scale.shape[0], scale.shape[0], eps=float(attrs.get("epsilon", 1e-5)))
    layer.weight.data, layer.bias.data = importer.parameter(scale), importer.parameter(bias)
    importer.bind(node, importer.add(layer, [x], node))


def layer_normalization(importer, node, attrs):
    """Statistics over the axes from ``axis`` on: LayerNorm(x.shape[axis:]) with Scale and B as weight and bias."""
    x = importer.tensor(node, 0)
    if len(node.output) > 1 and any(node.output[1:]):
        raise OnnxError(f"node {node.name!r} (LayerNormalization): the Mean and InvStdDev outputs do not import")
    shape = x.value.shape[int(attrs.get("axis", -1)) % x.value.ndim:]
    scale, bias = importer.constant(node, 1), importer.constant(node, 2)
    layer = nn.LayerNorm(shape, eps=float(attrs.get("epsilon", 1e-5)), bias=bias is not None)
    layer.weight.data = importer.parameter(np.broadcast_to(scale, shape))
    if bias is not None:
        layer.bias.data = importer.parameter(np.broadcast_to(bias, shape))
    importer.bind(node, importer.add(layer, [x], node))


def gemm(importer, node, attrs):
    """Y = alpha * A B' + beta * C, B' = B or B^T: a Linear with weight alpha * B'^T, bias beta * C."""
    x = importer.tensor(node, 0)
    weight, bias = importer.constant(node, 1), importer.constant(node, 2)
    if attrs.get("transA", 0) or x.value.ndim != 2:
        raise OnnxError(f"node {node.name!r} (Gemm): imports as Linear only with transA=0 and a 2-D input")
    weight = weight if attrs.get("transB", 0) else weight.T  # (out, in)
    _add_linear(importer, node, x, float(attrs.get("alpha", 1.0)) * weight,
                None if bias is None else float(attrs.get("beta", 1.0)) * bias)


def matmul(importer, node, attrs):
    """X @ W with W constant: a Linear without bias, or with the bias of a following Add of a constant
    (the MatMul + Add pair TensorFlow and Keras exporters write for a dense layer)."""
    if _adaptive_average_pooling(importer, node):
        return
    x = importer.tensor(node, 0)
    if not importer.is_constant(node.input[1]) or importer.constant(node, 1).ndim != 2:
        raise OnnxError(f"node {node.name!r} (MatMul): imports only as X @ W with a constant 2-D W")
    weight = importer.constant(node, 1).T
    bias, readers = None, importer.consumers.get(node.output[0], [])
    if len(readers) == 1 and readers[0].op_type == "Add":
        other = [name for name in readers[0].input if name != node.output[0]]
        if len(other) == 1 and importer.is_constant(other[0]) and importer.constants[other[0]].size == weight.shape[0]:
            bias, node_out = importer.constants[other[0]].reshape(-1), readers[0]
            importer.absorbed.add(id(readers[0]))
    traced = _add_linear(importer, node, x, weight, bias, bind=False)
    importer.bind(node_out if bias is not None else node, traced)


def _adaptive_average_pooling(importer, node) -> bool:
    """rows @ (x @ cols) with adaptive averaging matrices (how strided exports uneven adaptive average
    pooling) back into an AdaptiveAvgPool2d; False when the pair is something else."""
    readers = importer.consumers.get(node.output[0], [])
    if node.input[0] not in importer.tensors or not importer.is_constant(node.input[1]) or len(readers) != 1:
        return False
    x, cols, second = importer.tensors[node.input[0]], importer.constants[node.input[1]], readers[0]
    if (x.value.ndim != 4 or second.op_type != "MatMul" or second.input[1] != node.output[0]
            or not importer.is_constant(second.input[0])):
        return False
    rows = importer.constants[second.input[0]]
    h, w = x.value.shape[2:]
    if (cols.ndim != 2 or rows.ndim != 2 or cols.shape[0] != w or rows.shape[1] != h
            or not np.array_equal(cols, averaging_matrix(w, cols.shape[1], cols.dtype).T)
            or not np.array_equal(rows, averaging_matrix(h, rows.shape[0], rows.dtype))):
        return False
    importer.absorbed.add(id(second))
    importer.bind(second, importer.add(nn.AdaptiveAvgPool2d((rows.shape[0], cols.shape[1])), [x], node))
    return True


def _add_linear(importer, node, x, weight, bias, bind: bool = True):
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    layer.weight.data = importer.parameter(weight)
    if bias is not None:
        layer.bias.data = importer.parameter(np.broadcast_to(bias, (weight.shape[0],)))
    traced = importer.add(layer, [x], node)
    if bind:
        importer.bind(node, traced)
    return traced


CONVERTERS = {
    **POINTWISE,
    "Conv": conv,
    **RESAMPLE_CONVERTERS,
    "MaxPool": max_pool,
    "AveragePool": average_pool,
    "GlobalAveragePool": global_pool(nn.GlobalAvgPool2d),
    "GlobalMaxPool": global_pool(nn.GlobalMaxPool2d),
    "BatchNormalization": batch_normalization,
    "InstanceNormalization": instance_normalization,
    "LayerNormalization": layer_normalization,
    "Gemm": gemm,
    "MatMul": matmul,
}
PASSTHROUGH = ("Identity", "Dropout")
