"""Fusing a trained model for inference: each batch norm folded into the convolution before it.

In evaluation a BatchNorm2d is a fixed per-channel affine map, ``bn(z) = (z - mean) * s + beta`` with
``s = gamma / sqrt(var + eps)`` from its running statistics. After a convolution ``z = W * x + b`` the
pair is therefore ONE convolution, per output channel o:

    W'[o] = W[o] * gamma[o] / sqrt(var[o] + eps)
    b'[o] = (b[o] - mean[o]) * gamma[o] / sqrt(var[o] + eps) + beta[o]        (b = 0 without a bias)

``fuse(model)`` (``model.fuse()``) returns a copy of the model in which every such pair is folded: the
convolution gets W' and b', the batch norm becomes ``Identity`` (so the other names stay), and the ReLU
right after a folded convolution runs in place on the convolution's fresh output. The pairs are found
where the data flow is certain: consecutive children of a ``Sequential`` (and of DenseNet's layer
chains), the ``conv1``/``bn1`` ... pairs of ResNet's blocks, and ``Graph`` nodes where a batch norm is
the only reader of a convolution. A pair with hooks, or a batch norm without running statistics, is
left as it is.

The copy is for inference only: it always runs as under ``st.no_grad()``, and ``train()`` or a
backward on it raises an error naming fuse (its parameters are not the model's: train the original
and fuse again). The original model is untouched.
"""

import copy

import numpy as np

from . import init
from .activation import ReLU
from .blocks import Bottleneck, DenseLayer, ResidualBlock, Transition
from .container import Sequential
from .conv import Conv2d
from .graph import Graph
from .linear import Identity
from .module import Module
from .norm import BatchNorm2d

__all__ = ["fold_batch_norm", "fuse"]

# Which (convolution, batch norm) children of a block run one right after the other.
_BLOCK_PAIRS = {
    ResidualBlock: (("conv1", "bn1"), ("conv2", "bn2")),
    Bottleneck: (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")),
}
# Containers whose children run in registration order, each reading the previous one's output.
_CHAINS = (Sequential, DenseLayer, Transition)


def fold_batch_norm(conv: Conv2d, bn: BatchNorm2d) -> Conv2d:
    """A new Conv2d equal to ``bn(conv(x))`` with ``bn`` in evaluation mode (the formula above).

    The folding is computed in float64 and rounded once to the convolution's dtype."""
    dtype = conv.weight.dtype
    scale = 1.0 / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.data
    bias = np.zeros(conv.out_channels) if conv.bias is None else conv.bias.data.astype(np.float64)
    bias = (bias - bn.running_mean) * scale
    if bn.bias is not None:
        bias = bias + bn.bias.data
    with init.skip_init():  # the weights are set just below
        fused = Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, stride=conv.stride,
                       padding=conv.padding, dilation=conv.dilation, groups=conv.groups, bias=True,
                       padding_mode=conv.padding_mode)  # float32 until the data below: a model file records no dtype
    fused.weight.data = (conv.weight.data * scale.reshape(-1, 1, 1, 1)).astype(dtype)
    fused.bias.data = bias.astype(dtype)
    return fused


def fuse(model: Module) -> Module:
    """An equivalent evaluation-only copy of ``model`` with batch norms folded (see the module docstring)."""
    if not isinstance(model, Module):
        raise TypeError(f"fuse: expected a strided Module, got {type(model).__name__}")
    fused = copy.deepcopy(model).eval()
    for module in list(fused.modules()):
        for conv_name, bn_name, relu_name in _conv_bn_runs(module):
            conv, bn = module._modules[conv_name], module._modules[bn_name]
            if not _foldable(conv, bn):
                continue
            _replace(module, conv_name, fold_batch_norm(conv, bn))
            _replace(module, bn_name, Identity())
            relu = module._modules.get(relu_name) if relu_name is not None else None
            if type(relu) is ReLU and not relu.has_hooks():
                # Its input is the folded convolution's fresh output, which nothing else reads.
                object.__setattr__(relu, "_in_place", True)
    fused.__dict__.pop("builder", None)  # the builder would rebuild the unfused architecture
    for module in fused.modules():
        object.__setattr__(module, "_fused", True)
    return fused


def _conv_bn_runs(module: Module):
    """(conv name, bn name, name of the ReLU that reads the bn's output or None) of ``module``'s children."""
    if isinstance(module, _CHAINS):
        names = list(module._modules)
        for i in range(len(names) - 1):
            yield names[i], names[i + 1], names[i + 2] if i + 2 < len(names) else None
    elif type(module) in _BLOCK_PAIRS:
        for conv_name, bn_name in _BLOCK_PAIRS[type(module)]:
            yield conv_name, bn_name, None  # the blocks apply their ReLUs themselves
    elif isinstance(module, Graph):
        yield from _graph_runs(module)


def _graph_runs(graph: Graph):
    """Graph nodes: a batch norm whose one input is a convolution node that nothing else reads."""
    readers = {}
    for node in graph.nodes:
        for source in node.inputs:
            readers[source] = readers.get(source, 0) + 1
    for name in graph.output_names:
        readers[name] = readers.get(name, 0) + 1
    nodes = {node.name: node for node in graph.nodes}
    for node in graph.nodes:
        source = node.inputs[0]
        if len(node.inputs) != 1 or source not in nodes or readers[source] != 1:
            continue
        relu = [n.name for n in graph.nodes if n.inputs == (node.name,)]
        alone = readers.get(node.name) == 1 and len(relu) == 1
        yield source, node.name, relu[0] if alone else None


def _foldable(conv, bn) -> bool:
    return (type(conv) is Conv2d and isinstance(bn, BatchNorm2d) and bn.running_mean is not None
            and bn.num_features == conv.out_channels and not conv.has_hooks() and not bn.has_hooks())


def _replace(parent: Module, name: str, module: Module) -> None:
    if isinstance(parent, Graph):
        parent.replace(name, module)
    else:
        setattr(parent, name, module)
