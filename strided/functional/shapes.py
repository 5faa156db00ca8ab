"""Output-size and parameter-count formulas, the arithmetic a learner checks by hand.

Convolution and pooling share one output-size formula (PyTorch's docstrings state the same):

    O = floor((I + 2P - D(K - 1) - 1) / S) + 1

With ``ceil_mode`` (pooling only) the division rounds up, but a window may not *start* in the
right-hand padding, so the last one is dropped when it would.
"""

import math

import numpy as np


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length along one axis: floor((I + 2P - D(K-1) - 1)/S) + 1 (ceil with ``ceil_mode``)."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    # PyTorch's rule: the last window must start inside the input or the left padding.
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pool_output_size(size: int, kernel: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """The same formula for pooling, whose stride defaults to the kernel size."""
    return conv_output_size(size, kernel, kernel if stride is None else stride, padding, dilation, ceil_mode)


def conv_param_count(in_channels: int, out_channels: int, kernel_size, groups: int = 1, bias: bool = True) -> int:
    """(K_h * K_w * C_in / groups + 1) * C_out: weights of every filter plus one bias each."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return (kh * kw * in_channels // groups + (1 if bias else 0)) * out_channels


def param_count(module) -> int:
    """Total number of parameter values in a module (a shared parameter counts once)."""
    return int(sum(np.prod(p.data.shape, dtype=np.int64) for p in module.parameters()))
