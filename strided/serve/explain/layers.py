"""What every layer made of one input, packed for the web page.

Each layer with feature maps (C, H, W) is sent whole (every channel: the page pages through them;
only a layer of over a million values is cut to the channels that fit) as signed bytes on ONE
symmetric scale for the layer, ``q = round(127 * v / m)`` with ``m = max |v|`` over all its
channels, so that colours compare across channels and zero is always the middle of the colour
bar. One byte per value keeps a ResNet-20's ~600,000 values near 0.8 MB of base64; the exact
numbers of any one pixel come from ``explain=window``.
"""

import base64

import numpy as np

from ...functional.shapes import param_count
from .receptive_field import geometry
from .trace import Step

ACTIVATIONS = ("ReLU", "ReLU6", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "Softplus", "Mish",
               "Hardswish", "Hardsigmoid", "PReLU", "SELU", "CELU")
ROLES = {"Conv2d": "conv", "BatchNorm2d": "norm", "MaxPool2d": "pool", "AvgPool2d": "pool",
         "AdaptiveAvgPool2d": "pool", "AdaptiveMaxPool2d": "pool", "GlobalAvgPool2d": "pool",
         "GlobalMaxPool2d": "pool", "FractionalMaxPool2d": "pool"}
# the docs pages (under docs/) that explain each kind of layer
DOCS = {"conv": ["convolution.md"], "norm": ["batchnorm.md"], "pool": ["pooling.md"], "activation": ["backprop.md"],
        "block": ["architectures.md"], "other": ["README.md"]}


def docs_for(step: Step, role: str) -> list:
    """The pages for this layer: its kind's, plus multichannel, padding and stride pages where they apply."""
    pages = list(DOCS[role])
    geo = geometry(step.module)
    if role == "conv":
        if step.module.in_channels > 1 or step.module.kernel_size == (1, 1):
            pages.append("multichannel.md")
        if geo and max(geo["stride"]) > 1:
            pages.append("stride_backward.md")
    if geo and max(geo["padding"]) > 0:
        pages.append("padding.md")
    return pages
FIRST_FILTERS_MAX_IN = 3  # filters are drawn above their maps when each is at most 3 small planes
# A ResNet-18 on a 224x224 image has ~15 million activation values (20 MB as base64): a layer sends
# at most this many values, whole channels, and says how many of its channels came.
MAX_VALUES_PER_LAYER = 1 << 20


def encode_float32(array: np.ndarray) -> dict:
    data = np.ascontiguousarray(array, dtype="<f4")
    return {"shape": list(data.shape), "dtype": "float32", "data": base64.b64encode(data.tobytes()).decode("ascii")}


def encode_symmetric(maps: np.ndarray) -> dict:
    """(C, H, W) -> int8 bytes on one symmetric scale ``m`` for all channels (``v ~ q * m / 127``)."""
    scale = float(np.max(np.abs(maps))) if maps.size else 0.0
    q = np.zeros(maps.shape, np.int8) if scale == 0 else np.round(maps * (127.0 / scale)).astype(np.int8)
    return {"shape": list(maps.shape), "dtype": "int8", "scale": scale,
            "min": float(maps.min()), "max": float(maps.max()),
            "data": base64.b64encode(np.ascontiguousarray(q).tobytes()).decode("ascii")}


def channels_sent(shape: tuple) -> int:
    """How many whole channels of a (C, H, W) layer fit in MAX_VALUES_PER_LAYER (at least one)."""
    return max(1, min(shape[0], MAX_VALUES_PER_LAYER // max(1, shape[1] * shape[2])))


def role_of(step: Step) -> str:
    kind = type(step.module).__name__
    if not step.leaf:
        return "block"
    if kind in ACTIVATIONS:
        return "activation"
    return ROLES.get(kind, "other")


def describe_step(step: Step, steps: list) -> dict:
    kind = type(step.module).__name__
    role = role_of(step)
    entry = {"index": step.index, "name": step.name, "type": kind, "role": role, "label": step.module.label(),
             "shape": list(step.output.shape), "params": param_count(step.module), "docs": docs_for(step, role),
             "geometry": geometry(step.module), "reads": [steps[p].name if p >= 0 else "input" for p, _ in step.reads],
             "maps": encode_symmetric(step.output[: channels_sent(step.output.shape)])}
    if step.first_input is not None:
        entry["input_shape"] = list(step.first_input.shape)
    if role == "activation":
        entry["stage"] = "post-activation"
    elif any(role_of(s) == "activation" and any(p == step.index for p, _ in s.reads) for s in steps):
        entry["stage"] = "pre-activation"
    if step.first_input is not None and step.first_input.shape == step.output.shape and role == "pool":
        # seed_cnn's AdaptiveAvgPool2d(7) on a 7x7 map: say so instead of drawing the same maps again
        entry["identity"] = bool(np.array_equal(step.first_input, step.output))
    if kind == "Conv2d" and step.module.weight.shape[1] <= FIRST_FILTERS_MAX_IN:
        entry["filters"] = encode_float32(step.module.weight.data)
    return entry


def describe_layers(steps: list, logits: np.ndarray, probabilities: np.ndarray, class_names: list) -> dict:
    layers = [describe_step(s, steps) for s in steps if s.output.ndim == 3]
    return {"layers": layers,
            "logits": {"values": [float(v) for v in logits], "scale": float(np.max(np.abs(logits)))},
            "softmax": [float(p) for p in probabilities], "classes": list(class_names)}


def input_pixels(x: np.ndarray, preprocessing) -> dict:
    """The network's input as the image it was (normalisation undone), RGB bytes (H, W, 3)."""
    mean = np.asarray(getattr(preprocessing, "mean", (0.0,) * x.shape[0]), np.float64)[:, None, None]
    std = np.asarray(getattr(preprocessing, "std", (1.0,) * x.shape[0]), np.float64)[:, None, None]
    image = np.clip(x * std + mean, 0.0, 1.0)
    if image.shape[0] == 1:
        image = np.repeat(image, 3, axis=0)
    rgb = np.round(image[:3].transpose(1, 2, 0) * 255).astype(np.uint8)
    return {"shape": list(rgb.shape), "dtype": "uint8",
            "data": base64.b64encode(np.ascontiguousarray(rgb).tobytes()).decode("ascii")}
