"""torch.nn.functional's pooling ops, with the backward of each: max, average, adaptive, fractional.

The windows are ``geometry``'s; the kernels strided.functional.reference.pool and .adaptive_pool, or
their fast equals. A ``*_backward`` recomputes the forward's context from its arguments (a learner's
call; a layer keeps its forward's context instead).
"""

import numpy as np

from ..rng import get_generator
from .dispatch import kernels
from .geometry import fractional_output_size, pool_geometry  # noqa: F401  (pool_geometry: part of this API)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """torch.nn.functional.max_pool2d: y = the max of each window (padding never wins)."""
    return kernels().max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode, False)[0]


def max_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """dL/dx of max_pool2d: each dL/dy goes to its window's first maximum (overlaps add up)."""
    return kernels().max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)[1].backward(grad_out)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d: y = the sum of each window / its divisor."""
    return kernels().avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                        divisor_override, False)[0]


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                        divisor_override=None):
    """dL/dx of avg_pool2d: each dL/dy / divisor added to every position of its window."""
    _, ctx = kernels().avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                          divisor_override)
    return ctx.backward(grad_out)


def adaptive_avg_pool2d(x, output_size):
    """torch.nn.functional.adaptive_avg_pool2d: the mean of window [floor(i*I/O), ceil((i+1)*I/O)) per axis."""
    return kernels().adaptive_avg_pool2d_forward(x, output_size, False)[0]


def adaptive_avg_pool2d_backward(grad_out, x, output_size):
    return kernels().adaptive_avg_pool2d_forward(x, output_size)[1].backward(grad_out)


def adaptive_max_pool2d(x, output_size):
    """torch.nn.functional.adaptive_max_pool2d (without return_indices): the max of each adaptive window."""
    return kernels().adaptive_max_pool2d_forward(x, output_size, False)[0]


def adaptive_max_pool2d_backward(grad_out, x, output_size):
    return kernels().adaptive_max_pool2d_forward(x, output_size)[1].backward(grad_out)


def _fractional_args(x, kernel_size, output_size, output_ratio, samples):
    out_hw = fractional_output_size(x.shape[2:], kernel_size, output_size, output_ratio, "fractional_max_pool2d")
    if samples is None:
        samples = get_generator().random(x.shape[:2] + (2,)).astype(x.dtype)
    return out_hw, np.asarray(samples, x.dtype)


def fractional_max_pool2d(x, kernel_size, output_size=None, output_ratio=None, _random_samples=None):
    """torch.nn.functional.fractional_max_pool2d: the max of K_h x K_w windows at pseudo-random starts
    (from ``_random_samples`` (N, C, 2), or drawn from strided's seeded generator)."""
    out_hw, samples = _fractional_args(x, kernel_size, output_size, output_ratio, _random_samples)
    return kernels().fractional_max_pool2d_forward(x, kernel_size, out_hw, samples, False)[0]


def fractional_max_pool2d_backward(grad_out, x, kernel_size, output_size=None, output_ratio=None,
                                   _random_samples=None):
    """dL/dx of fractional_max_pool2d; pass the forward's ``_random_samples`` to get its windows."""
    out_hw, samples = _fractional_args(x, kernel_size, output_size, output_ratio, _random_samples)
    return kernels().fractional_max_pool2d_forward(x, kernel_size, out_hw, samples)[1].backward(grad_out)
