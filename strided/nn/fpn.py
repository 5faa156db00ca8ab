"""Feature Pyramid Network (Lin et al., 2017): maps of every scale, each with the deepest layers' meaning.

A backbone's early maps are fine but know little; its late maps know much but are coarse. The FPN
gives every level both: a 1x1 "lateral" convolution brings each backbone map to ``out_channels``,
a top-down pass adds to each the nearest-neighbour upsampled sum from the level above, and a 3x3
convolution smooths each sum. A detector then looks for small objects on the fine levels and large
ones on the coarse levels, all with the same head. Structure, names and initialisation follow
torchvision.ops.FeaturePyramidNetwork (``inner_blocks.0.0.weight``, ``layer_blocks.2.0.bias``).
"""

from collections import OrderedDict

import numpy as np

from ..functional.dispatch import kernels
from ..functional.interpolate import interpolate_args
from . import init
from .checks import check_input
from .container import ModuleList, Sequential
from .conv import Conv2d
from .module import Module

__all__ = ["FeaturePyramidNetwork", "LastLevelMaxPool"]


class LastLevelMaxPool(Module):
    """torchvision's extra level "pool": max pooling with kernel 1 and stride 2 of the coarsest output,
    i.e. every other pixel, y = p[:, :, ::2, ::2] (Faster R-CNN's P6). Backward: the gradient goes back
    to the pixels kept, zeros elsewhere."""

    name = "pool"

    def forward(self, x):
        check_input(self, x, 4)
        self.save_for_backward(x.shape)
        return np.ascontiguousarray(x[:, :, ::2, ::2])

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        grad_in = np.zeros(shape, grad_out.dtype)
        grad_in[:, :, ::2, ::2] = grad_out
        return grad_in


class FeaturePyramidNetwork(Module):
    """Inputs: a dict of L maps x_0 ... x_{L-1}, finest first (``in_channels_list[i]`` channels each);
    outputs: a dict of L maps of ``out_channels`` under the same names (plus "pool" with LastLevelMaxPool):

        m_{L-1} = inner_{L-1}(x_{L-1});  m_i = inner_i(x_i) + nearest_upsample(m_{i+1}, size of x_i)
        p_i = layer_i(m_i)               inner: 1x1 conv, layer: 3x3 conv (padding 1), both with bias

    Backward(grads): a dict of gradients by output name (a subset is fine: the others are zero). Going
    down the levels (i = 0 first), m_i's gradient is layer_i's input gradient plus the nearest
    upsampling's backward of m_{i-1}'s (each coarse pixel collects the gradients of the fine pixels it
    was copied to); inner_i.backward of it is dL/dx_i. Returns a dict of input gradients by name.
    """

    def __init__(self, in_channels_list, out_channels: int, extra_blocks=None):
        super().__init__()
        if not isinstance(in_channels_list, (list, tuple)) or not in_channels_list or not all(
                isinstance(c, (int, np.integer)) and c > 0 for c in in_channels_list):
            raise ValueError(f"FeaturePyramidNetwork: in_channels_list must be a non-empty list of positive channel "
                             f"counts, got {in_channels_list!r}")
        if extra_blocks is not None and not isinstance(extra_blocks, LastLevelMaxPool):
            raise TypeError(f"FeaturePyramidNetwork: extra_blocks must be None or LastLevelMaxPool(), "
                            f"got {type(extra_blocks).__name__}")
        self.in_channels_list, self.out_channels = [int(c) for c in in_channels_list], int(out_channels)
        self.inner_blocks = ModuleList([Sequential(Conv2d(c, out_channels, 1)) for c in in_channels_list])
        self.layer_blocks = ModuleList([Sequential(Conv2d(out_channels, out_channels, 3, padding=1))
                                        for _ in in_channels_list])
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, Conv2d):
                init.kaiming_uniform_(module.weight, a=1)
                init.zeros_(module.bias)
        self.extra_blocks = extra_blocks

    def forward(self, x):
        names, maps = self._check(x)
        last_inner = self.inner_blocks[-1](maps[-1])
        results = [self.layer_blocks[-1](last_inner)]
        upsamplings = [None] * len(maps)  # level i: how m_{i+1} was upsampled into m_i
        for i in range(len(maps) - 2, -1, -1):
            lateral = self.inner_blocks[i](maps[i])
            args = interpolate_args(last_inner, size=lateral.shape[-2:], mode="nearest")
            top_down, upsamplings[i] = kernels().interpolate_forward(last_inner, *args)
            last_inner = lateral + top_down
            results.insert(0, self.layer_blocks[i](last_inner))
        out_names = list(names)
        if self.extra_blocks is not None:
            results.append(self.extra_blocks(results[-1]))
            out_names.append(self.extra_blocks.name)
        self.save_for_backward(names, out_names, [m.shape for m in maps], upsamplings)
        return OrderedDict(zip(out_names, results, strict=True))

    def backward(self, grads):
        names, out_names, shapes, upsamplings = self.saved_for_backward()
        if not isinstance(grads, dict) or set(grads) - set(out_names):
            got = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise ValueError(f"{self.label()}: backward expected a dict of gradients with keys among {out_names}, "
                             f"got {got}")
        grad_results = [grads.get(name) for name in names]
        if self.extra_blocks is not None and grads.get(self.extra_blocks.name) is not None:
            extra = self.pass_gradient(self.extra_blocks.backward(grads[self.extra_blocks.name]))
            grad_results[-1] = extra if grad_results[-1] is None else self.pass_gradient(grad_results[-1] + extra)
        grad_inputs, from_finer = OrderedDict(), None
        for i, name in enumerate(names):
            grad_m = None if grad_results[i] is None else self.pass_gradient(self.layer_blocks[i].backward(
                grad_results[i]))
            if from_finer is not None:  # m_{i-1} = lateral + upsample(m_i)
                up = self.pass_gradient(upsamplings[i - 1].backward(from_finer))
                grad_m = up if grad_m is None else grad_m + up
            from_finer = grad_m
            grad_inputs[name] = (np.zeros(shapes[i], self.inner_blocks[i][0].weight.dtype) if grad_m is None
                                 else self.pass_gradient(self.inner_blocks[i].backward(grad_m)))
        return grad_inputs

    def _check(self, x):
        if not isinstance(x, dict) or len(x) != len(self.in_channels_list):
            got = f"{len(x)} maps" if isinstance(x, dict) else type(x).__name__
            raise ValueError(f"{self.label()}: expected a dict of {len(self.in_channels_list)} feature maps, "
                             f"finest first, got {got}")
        for (name, value), block in zip(x.items(), self.inner_blocks, strict=True):
            try:
                check_input(block[0], value, 4, block[0].in_channels)
            except ValueError as error:
                raise ValueError(f"{self.label()}: map {name!r}: {error}") from None
        return list(x), list(x.values())

    def label(self):
        return f"FeaturePyramidNetwork({self.in_channels_list} -> {self.out_channels})"

    def extra_repr(self):
        return f"in_channels_list={self.in_channels_list}, out_channels={self.out_channels}"
