"""ONNX forms of the modules with several outputs: a feature extractor, and a ResNet with a feature pyramid
(``st.models.resnet_fpn_backbone``). Their dicts of maps become the graph's outputs, in the dict's order
(``output_0``, ``output_1``, ...: for resnet_fpn_backbone the levels "0", "1", "2", "3" and "pool").

Each function is ``(builder, module, scope, traced input, emit)`` -> a list of traced outputs, where
``emit`` is export.emit_module (passed in, so that this module does not import export.py).
"""

import numpy as np

from .. import nn
from ..models import BackboneWithFPN, FeatureExtractor
from ..models.feature_extraction import INPUT
from .builder import Traced


def _sub(scope: str, name: str) -> str:
    return f"{scope}.{name}" if scope else name


def feature_extractor(b, extractor, scope, x, emit) -> list:
    """The extractor's steps (each module under its own name, so parameters keep the model's names), then
    the requested nodes' outputs."""
    values = {INPUT: x}
    for step in extractor._steps:
        (values[step.name],) = emit(b, step.module, _sub(scope, step.name), [values[s] for s in step.inputs])
    return [values[extractor._sources[node]] for node in extractor._outputs]


def feature_pyramid(b, fpn, scope, maps, emit) -> list:
    """m_{L-1} = inner(x_{L-1}); m_i = inner(x_i) + nearest Resize of m_{i+1} to x_i's size; p_i = layer(m_i);
    LastLevelMaxPool's x[:, :, ::2, ::2] is MaxPool with a 1x1 window and stride 2 (as PyTorch exports it)."""
    count = len(maps)

    def block(kind, i, x):
        return emit(b, getattr(fpn, kind)[i], _sub(scope, f"{kind}.{i}"), [x])[0]

    last = block("inner_blocks", count - 1, maps[-1])
    results = [block("layer_blocks", count - 1, last)]
    for i in range(count - 2, -1, -1):
        lateral = block("inner_blocks", i, maps[i])
        (top_down,) = emit(b, nn.Upsample(size=tuple(lateral.value.shape[2:]), mode="nearest"),
                           _sub(scope, f"upsample.{i}"), [last])
        last = Traced(b.node("Add", [lateral.name, top_down.name], scope), lateral.value + top_down.value)
        results.insert(0, block("layer_blocks", i, last))
    if fpn.extra_blocks is not None:
        top = results[-1]
        pooled = np.ascontiguousarray(top.value[:, :, ::2, ::2])
        results.append(Traced(b.node("MaxPool", [top.name], _sub(scope, "extra_blocks"), kernel_shape=[1, 1],
                                     strides=[2, 2]), pooled))
    return results


def backbone_with_fpn(b, backbone, scope, x, emit) -> list:
    maps = feature_extractor(b, backbone.body, _sub(scope, "body"), x, emit)
    return feature_pyramid(b, backbone.fpn, _sub(scope, "fpn"), maps, emit)


MULTI_OUTPUT = {FeatureExtractor: feature_extractor, BackboneWithFPN: backbone_with_fpn}
