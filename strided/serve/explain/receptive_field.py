"""Which input a feature-map pixel reads: its window in the layer's input, and its receptive field on the image.

For a convolution or pooling layer with kernel K, stride S, padding P and dilation D, output row i
reads input rows ``i*S - P ... i*S - P + D*(K-1)`` (columns alike). Chaining that rule backwards
through every step of a recorded forward (``trace.Trace``) gives the receptive field: the box of
image pixels the value can depend on. Where a tensor fans out (a residual shortcut, a dense
block's concatenation) the boxes of all branches are united, as the graph's backward sums the
gradients of all readers. Elementwise steps (batch norm, activations) keep the box; a step that
mixes everything (Linear, global pooling) makes it the whole input.

``window`` also recomputes the clicked value from the window with the layer's own weights (the
dot product of a convolution, the max or mean of a pooling), with every number, for the page.
"""

import math

import numpy as np

from .trace import IMAGE


def pair(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value), int(value))


def conv_pads(module) -> tuple:
    """(top, left) zero padding of a Conv2d or pooling layer, 'same' and 'valid' included."""
    padding = module.padding
    if padding == "valid":
        return 0, 0
    if padding == "same":  # PyTorch puts the odd pixel of D*(K-1) at the bottom/right
        return tuple(d * (k - 1) // 2 for k, d in zip(pair(module.kernel_size), pair(module.dilation), strict=True))
    return pair(padding)


def geometry(module) -> dict | None:
    """Kernel, stride, padding and dilation of a sliding-window layer (None for other layers)."""
    kind = type(module).__name__
    if kind not in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        return None
    return {"kernel": list(pair(module.kernel_size)), "stride": list(pair(module.stride)),
            "padding": list(conv_pads(module)), "dilation": list(pair(getattr(module, "dilation", 1)))}


def _adaptive_rows(r0: int, r1: int, size_in: int, size_out: int) -> tuple:
    return (r0 * size_in) // size_out, math.ceil((r1 + 1) * size_in / size_out) - 1


def input_box(module, box: tuple, in_hw: tuple, out_hw: tuple, clip: bool = True) -> tuple:
    """The input box (r0, r1, c0, c1), inclusive, that the output box of one step reads."""
    r0, r1, c0, c1 = box
    geo = geometry(module)
    if geo is not None:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo["kernel"], geo["stride"], geo["padding"], geo["dilation"]
        out = (r0 * sh - ph, r1 * sh - ph + dh * (kh - 1), c0 * sw - pw, c1 * sw - pw + dw * (kw - 1))
    elif type(module).__name__ in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        out = (*_adaptive_rows(r0, r1, in_hw[0], out_hw[0]), *_adaptive_rows(c0, c1, in_hw[1], out_hw[1]))
    elif tuple(in_hw) == tuple(out_hw):
        out = box  # elementwise: batch norm, activations, dropout
    else:
        out = (0, in_hw[0] - 1, 0, in_hw[1] - 1)  # mixes every position (global pooling, Linear)
    if not clip:
        return out
    return max(out[0], 0), min(out[1], in_hw[0] - 1), max(out[2], 0), min(out[3], in_hw[1] - 1)


def _union(a, b):
    return b if a is None else (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def _hw(shape) -> tuple:
    return tuple(shape[-2:]) if len(shape) == 4 else (1, 1)


def receptive_field(steps: list, index: int, row: int, col: int, image_hw: tuple) -> list:
    """The image box [top, bottom, left, right] (inclusive) that step ``index``'s pixel (row, col) reads.

    A reverse sweep over the steps, like a backward pass: each step hands the box of its output
    to the steps that produced its inputs, and boxes reaching the same step are united.
    """
    boxes = {index: (row, row, col, col)}
    image = None
    for step in reversed(steps[: index + 1]):
        box = boxes.pop(step.index, None)
        if box is None:
            continue
        out_hw = _hw((1, *step.output.shape))
        for producer, in_hw in step.reads:
            if step.leaf:
                found = input_box(step.module, box, in_hw, out_hw)
            elif tuple(in_hw) == tuple(out_hw) and step.passes_input:
                found = box  # an identity shortcut or a concatenation carries the input through
            else:
                continue
            if producer == IMAGE:
                image = _union(image, found)
            else:
                boxes[producer] = _union(boxes.get(producer), found)
        for sink in step.sinks:  # the branches a block summed or concatenated
            if tuple(steps[sink].output.shape[-2:]) == tuple(out_hw):
                boxes[sink] = _union(boxes.get(sink), box)
    if image is None:
        return [0, image_hw[0] - 1, 0, image_hw[1] - 1]
    return list(image)


def window(step, channel: int, row: int, col: int) -> dict:
    """The numbers behind one output value of a conv or pooling step: window, filter, result."""
    module, x = step.module, step.first_input
    kind = type(module).__name__
    value = float(step.output[channel, row, col])
    in_hw = x.shape[-2:]
    if kind in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        r0, r1, c0, c1 = input_box(module, (row, row, col, col), in_hw, step.output.shape[-2:])
        values = x[channel, r0:r1 + 1, c0:c1 + 1]
        op = "max" if "Max" in kind else "mean"
        computed = float(values.max() if op == "max" else values.mean())
        return {"kind": op, "box": [r0, r1, c0, c1], "window": values.tolist(), "padded": np.zeros_like(values,
                bool).tolist(), "result": computed, "value": value, "channels": [channel]}
    geo = geometry(module)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geo["kernel"], geo["stride"], geo["padding"], geo["dilation"]
    rows = row * sh - ph + dh * np.arange(kh)
    cols = col * sw - pw + dw * np.arange(kw)
    inside = ((rows >= 0) & (rows < in_hw[0]))[:, None] & ((cols >= 0) & (cols < in_hw[1]))[None, :]
    r, c = np.clip(rows, 0, in_hw[0] - 1), np.clip(cols, 0, in_hw[1] - 1)
    box = [int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])]
    if kind == "Conv2d":
        group_size = module.in_channels // module.groups
        first = (channel // (module.out_channels // module.groups)) * group_size
        channels = list(range(first, first + group_size))
        pad_value = 0.0
        if module.padding_mode != "zeros":  # the padded input, as the layer saw it
            mode = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}[module.padding_mode]
            padded = np.pad(x[channels], ((0, 0), (ph, ph), (pw, pw)), mode=mode)
            values = padded[:, (rows + ph)[:, None], (cols + pw)[None, :]]
            inside = np.ones_like(inside)
        else:
            values = np.where(inside, x[channels][:, r[:, None], c[None, :]], pad_value)
        weights = module.weight.data[channel].astype(np.float64)
        bias = 0.0 if module.bias is None else float(module.bias.data[channel])
        partial = (weights * values).sum(axis=(1, 2))
        return {"kind": "conv", "box": box, "channels": channels, "window": values.tolist(),
                "padded": (~inside).tolist(), "weights": weights.tolist(), "bias": bias,
                "partial_sums": partial.tolist(), "result": float(partial.sum() + bias), "value": value}
    fill = -np.inf if kind == "MaxPool2d" else 0.0
    values = np.where(inside, x[channel][r[:, None], c[None, :]], fill)
    if kind == "MaxPool2d":
        computed = float(values.max())
        op = "max"
    else:
        include = getattr(module, "count_include_pad", True)
        count = values.size if include else int(inside.sum())
        divisor = getattr(module, "divisor_override", None) or count
        computed, op = float(values.sum() / divisor), "mean"
    shown = np.where(inside, values, 0.0)
    return {"kind": op, "box": box, "channels": [channel], "window": shown[None].tolist(),
            "padded": (~inside)[None].tolist(), "result": computed, "value": value}


def elementwise(step, steps: list, channel: int, row: int, col: int) -> dict:
    """A value-by-value layer's one value from the one value it read: ReLU, batch norm (eval), ..."""
    value = float(step.output[channel, row, col])
    producers = [p for p, hw in step.reads if p >= 0 and tuple(hw) == tuple(step.output.shape[-2:])]
    if not step.leaf or len(step.reads) != 1 or not producers:
        return {"kind": "other", "value": value}
    x = float(steps[producers[0]].output[channel, row, col])
    module, kind = step.module, type(step.module).__name__
    found = {"kind": "elementwise", "input": x, "value": value, "reads": steps[producers[0]].name}
    if kind == "BatchNorm2d" and not module.training and getattr(module, "running_mean", None) is not None:
        mean, var = float(module.running_mean[channel]), float(module.running_var[channel])
        gamma = float(module.weight.data[channel]) if module.weight is not None else 1.0
        beta = float(module.bias.data[channel]) if module.bias is not None else 0.0
        found.update(formula="gamma * (x - mean) / sqrt(var + eps) + beta", mean=mean, var=var, eps=module.eps,
                     gamma=gamma, beta=beta, result=gamma * (x - mean) / (var + module.eps) ** 0.5 + beta)
    elif kind == "ReLU":
        found.update(formula="max(0, x)", result=max(0.0, x))
    return found
