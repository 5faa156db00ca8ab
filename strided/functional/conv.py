"""torch.nn.functional's conv2d and pad, with the backward of each: arguments parsed here, math in the kernels.

The kernels (``kernels().conv2d_forward`` ...) are strided.functional.reference.conv and .pad, or their fast
equals in strided.functional.fast. A ``*_backward`` here recomputes the forward's context from its
arguments: a learner's call; a layer keeps the context of its forward instead.
"""

import numpy as np

from .args import conv_padding, padding4, pair, positive_int
from .dispatch import kernels
from .geometry import PAD_MODES, check_padding


def _conv_args(x, weight, stride, padding, dilation, groups):
    who = "conv2d"
    if not (isinstance(x, np.ndarray) and x.ndim == 4 and isinstance(weight, np.ndarray) and weight.ndim == 4):
        raise ValueError(f"{who}: expected x (N, C, H, W) and weight (C_out, C/groups, K_h, K_w) arrays, "
                         f"got shapes {np.shape(x)} and {np.shape(weight)}")
    groups = positive_int(groups, "groups", who)
    stride, dilation = pair(stride, "stride", who, 1), pair(dilation, "dilation", who, 1)
    padding = conv_padding(padding, weight.shape[2:], dilation, who)
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"{who}: input has {x.shape[1]} channels, weight {tuple(weight.shape)} with groups={groups} "
                         f"expects {weight.shape[1] * groups}")
    return stride, padding, dilation, groups


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d: y[n, o, i, j] = b[o] + sum_{c,p,q} W[o, c, p, q] x_pad[n, c, i*s_h + p*d_h,
    j*s_w + q*d_w]. ``padding``: int, (h, w), (left, right, top, bottom), 'valid' or 'same'."""
    args = _conv_args(x, weight, stride, padding, dilation, groups)
    return kernels().conv2d_forward(x, weight, bias, *args, need_backward=False)[0]


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """(dL/dx, dL/dW, dL/db) of conv2d from dL/dy: db = sum of g, dW = g @ cols^T, dx = col2im(W^T @ g)."""
    args = _conv_args(x, weight, stride, padding, dilation, groups)
    bias = np.zeros(weight.shape[0], weight.dtype)
    return kernels().conv2d_forward(x, weight, bias, *args)[1].backward(grad_out)


def _pad_args(x, pad, mode):
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {PAD_MODES}, got {mode!r}")
    padding = padding4(pad, "pad", "pad")
    check_padding(x.shape, padding, mode, "pad")
    return padding


def pad(x, pad, mode="constant", value=0.0):
    """torch.nn.functional.pad of the last two axes: ``pad`` = (left, right, top, bottom) (or an int);
    ``mode``: 'constant' (``value``), 'reflect', 'replicate' or 'circular'. Negative amounts crop."""
    padding = _pad_args(x, pad, mode)
    return kernels().pad2d_forward(x, padding, mode, value, need_backward=False)[0]


def pad_backward(grad_out, x_shape, pad, mode="constant"):
    """dL/dx of ``pad``: each border pixel's gradient is added to the pixel it copied (none for 'constant')."""
    padding = _pad_args(np.empty(x_shape, grad_out.dtype), pad, mode)
    _, ctx = kernels().pad2d_forward(np.zeros(x_shape, grad_out.dtype), padding, mode)
    return ctx.backward(grad_out)
