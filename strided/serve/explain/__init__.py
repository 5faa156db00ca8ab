"""The service's ``explain=`` views of one prediction, computed with strided's own forward and backward.

``POST /predict?explain=NAME`` with one input answers the prediction plus ``"explain"``:

==========  ==========================================================================================
``1``       the first 32 maps of each conv and pooling layer, each scaled on its own (the original view)
layers      every layer's maps (all channels, one symmetric scale per layer), pre- and post-activation,
            logits and softmax, the input as the network sees it
window      for ``layer``'s pixel (``channel``, ``row``, ``col``): the input window it reads, the filter,
            the dot product with every number, and its receptive field on the input
saliency    d(class score)/d(input) and its per-pixel maximum over channels
gradcam     Grad-CAM for class ``target`` at ``layer`` (default: the last layer with maps larger than 1x1)
occlusion   the drop of the class probability when a patch hides each region
==========  ==========================================================================================

``target`` is a class index (default: the predicted class).
"""

from enum import StrEnum
from typing import Annotated

import numpy as np
from fastapi import Query

from ...grad_mode import no_grad
from . import attribution
from .layers import describe_layers, encode_float32, input_pixels
from .receptive_field import elementwise, receptive_field, window
from .trace import WINDOWED, Trace

__all__ = ["ExplainError", "ExplainQuery", "Method", "explain"]


class ExplainError(ValueError):
    """A request the model cannot answer (unknown layer, pixel outside the map): the client's to fix."""


class Method(StrEnum):
    none = "0"
    maps = "1"
    layers = "layers"
    window = "window"
    saliency = "saliency"
    gradcam = "gradcam"
    occlusion = "occlusion"


class ExplainQuery:
    """The ``explain=`` query parameters of ``/predict`` (a FastAPI dependency, so the OpenAPI lists them)."""

    def __init__(
        self,
        explain: Annotated[Method, Query(description=(
            "What to explain about a single input: 0 nothing; 1 the first 32 maps of each conv/pooling "
            "layer; layers every layer's maps on one symmetric scale per layer, pre/post activation, "
            "logits and softmax; window the input window, filter and dot product behind one feature-map "
            "pixel (layer, channel, row, col) and its receptive field; saliency the gradient of the class "
            "score with respect to the input; gradcam Grad-CAM of class target at layer; occlusion the "
            "drop in the class probability when a patch hides each region."))] = Method.none,
        layer: Annotated[str | None, Query(max_length=200, description=(
            "A layer name from explain=layers (e.g. conv2, layer3.1.conv1): the layer of explain=window "
            "(required) and of explain=gradcam (default: the last layer with maps larger than 1x1)."))] = None,
        target: Annotated[int | None, Query(ge=0, description=(
            "Class index for saliency, gradcam and occlusion (default: the predicted class)."))] = None,
        channel: Annotated[int, Query(ge=0, description="explain=window: the feature map (channel) of the pixel.")] = 0,
        row: Annotated[int, Query(ge=0, description="explain=window: the pixel's row in the feature map.")] = 0,
        col: Annotated[int, Query(ge=0, description="explain=window: the pixel's column in the feature map.")] = 0,
    ):
        self.method = Method(explain)
        self.layer, self.target, self.channel, self.row, self.col = layer, target, channel, row, col

    def __bool__(self) -> bool:
        return self.method is not Method.none

    def run(self, predictor, x: np.ndarray) -> dict:
        return explain(predictor.model, x, self.method, preprocessing=predictor.preprocessing,
                       class_names=predictor.class_names, layer=self.layer, target=self.target,
                       channel=self.channel, row=self.row, col=self.col)


def _trace(model, x: np.ndarray):
    batch = x[None].astype(next(iter(model.parameters())).dtype, copy=False)
    with no_grad(), Trace(model) as trace:
        trace.mark_input(batch)
        logits = model(batch)
    return trace.steps, logits[0].astype(np.float64)


def _find(steps: list, name: str | None, what: str):
    shown = [s for s in steps if s.output.ndim == 3]
    if name is None:
        raise ExplainError(f"explain={what} needs layer= (one of: {', '.join(s.name for s in shown)})")
    for step in shown:
        if step.name == name:
            return step
    raise ExplainError(f"explain={what}: no layer with feature maps named {name!r}; "
                       f"choose one of: {', '.join(s.name for s in shown)}")


def explain(model, x: np.ndarray, method, *, preprocessing=None, class_names=(), layer=None, target=None,
            channel=0, row=0, col=0) -> dict:
    """One input (C, H, W) -> ``{"probabilities": ..., "explain": {...}}`` for ``method`` (a ``Method``)."""
    method = Method(method)
    steps, logits = _trace(model, x)
    probabilities = attribution.softmax(logits)
    classes = len(logits)
    if target is not None and not 0 <= target < classes:
        raise ExplainError(f"target must be a class index from 0 to {classes - 1}, got {target}")
    body = {"method": method.value}
    if method is Method.layers:
        body.update(describe_layers(steps, logits, probabilities, class_names))
        body["input"] = input_pixels(x, preprocessing)
    elif method is Method.window:
        step = _find(steps, layer, "window")
        c, h, w = step.output.shape
        if not (channel < c and row < h and col < w):
            raise ExplainError(f"explain=window: {step.name} has {c} channels of {h}x{w}; "
                               f"got channel={channel}, row={row}, col={col}")
        computed = window(step, channel, row, col) if step.leaf and type(step.module).__name__ in WINDOWED \
            else elementwise(step, steps, channel, row, col)
        body.update(layer=step.name, type=type(step.module).__name__, channel=channel, row=row, col=col,
                    receptive_field=receptive_field(steps, step.index, row, col, x.shape[-2:]), **computed)
    elif method is Method.saliency:
        found = attribution.saliency(model, x, target)
        body.update(target=found["target"], saliency=encode_float32(found["saliency"]),
                    gradient=encode_float32(found["gradient"]))
    elif method is Method.gradcam:
        spatial = [s for s in steps if s.output.ndim == 3 and s.output.shape[1] * s.output.shape[2] > 1]
        step = _find(steps, layer, "gradcam") if layer is not None else spatial[-1]
        found = attribution.grad_cam(model, x, step.module, target)
        body.update(target=found["target"], layer=step.name, heatmap=encode_float32(found["heatmap"]),
                    cam=encode_float32(found["cam"]), weights=[float(v) for v in found["weights"]])
    elif method is Method.occlusion:
        found = attribution.occlusion(model, x, target)
        body.update({k: v for k, v in found.items() if k != "sensitivity"},
                    sensitivity=encode_float32(found["sensitivity"]))
    return {"probabilities": probabilities, "explain": body}
