"""Pooling layers: thin wrappers over the pooling kernels of strided.functional.

The math is in strided/functional/reference/pool.py (max, average) and reference/adaptive_pool.py
(adaptive, global, fractional); the windows in functional/geometry.py. Each layer keeps its kernel's
context for the backward (the fast kernels keep the argmax as small integers, or only shapes for
average pooling) and under ``st.no_grad()`` keeps nothing and skips the argmax entirely.
"""

import numpy as np

from ..functional.args import pair
from ..functional.dispatch import kernels
from ..functional.geometry import adaptive_output_size, check_pool_args, fractional_output_size
from ..grad_mode import is_grad_enabled
from ..rng import get_generator
from .checks import check_grad, check_input
from .module import Module

__all__ = [
    "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d",
    "FractionalMaxPool2d",
]


class _Pool2d(Module):
    """Shared plumbing: input check, the kernel's context kept for backward, gradient check."""

    def _run(self, name: str, x, *args):
        """y of kernel ``name`` on x (checked), its context kept for the backward."""
        check_input(self, x, 4)
        out, ctx = getattr(kernels(), name + "_forward")(x, *args, need_backward=is_grad_enabled(), who=self.label())
        self.save_for_backward(ctx, out.shape)
        return out

    def backward(self, grad_out):
        ctx, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        return ctx.backward(grad_out)

    def label(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class MaxPool2d(_Pool2d):
    """2-D max pooling, PyTorch's MaxPool2d.

    Forward: y[n, c, i, j] = max over the window x[n, c, i*S_h + a*D_h - P_h, j*S_w + b*D_w - P_w],
    0 <= a < K_h, 0 <= b < K_w; padded positions are -inf and never win.
    Output: H_out = floor((H + 2P_h - D_h(K_h - 1) - 1) / S_h) + 1 (ceil with ``ceil_mode``, but a
    last window that would start in the right padding is dropped); W_out alike.
    Backward: each dL/dy goes to the input position that was its window's first maximum
    (row-major, PyTorch's tie rule); positions that are the maximum of several windows sum them.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.dilation = dilation
        self.ceil_mode = bool(ceil_mode)
        check_pool_args(kernel_size, self.stride, padding, dilation, self.label())

    def forward(self, x):
        return self._run("max_pool2d", x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(_Pool2d):
    """2-D average pooling, PyTorch's AvgPool2d.

    Forward: y[n, c, i, j] = (sum of the K_h x K_w window, zero padding included) / divisor, where
    the divisor is ``divisor_override`` if given, else with ``count_include_pad`` the window's
    positions inside input + padding, else only its positions on the real input.
    Output size as MaxPool2d (no dilation).
    Backward: each dL/dy / divisor is added to every input position of its window.
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override
        check_pool_args(kernel_size, self.stride, padding, 1, self.label())
        if divisor_override is not None and (isinstance(divisor_override, bool)
                                             or not isinstance(divisor_override, (int, np.integer))
                                             or divisor_override == 0):
            raise ValueError(f"{self.label()}: divisor_override must be a non-zero int or None, "
                             f"got {divisor_override!r}")

    def _args(self):
        return (self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
                self.divisor_override)

    def forward(self, x):
        return self._run("avg_pool2d", x, *self._args())

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(_Pool2d):
    """Average pooling to a given output size, PyTorch's AdaptiveAvgPool2d.

    Forward: y[n, c, i, j] = mean of x[n, c, s_i:e_i, t_j:u_j] with s_i = floor(i*H/H_out),
    e_i = ceil((i+1)*H/H_out) (t, u alike on W). ``output_size`` is an int or (h, w); None keeps
    that axis. Backward: each dL/dy / window size is added to every position of its window.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        adaptive_output_size((1, 1), output_size, self.label())

    def forward(self, x):
        return self._run("adaptive_avg_pool2d", x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(_Pool2d):
    """Max pooling to a given output size, PyTorch's AdaptiveMaxPool2d.

    Forward: y[n, c, i, j] = max of x[n, c, s_i:e_i, t_j:u_j], windows as AdaptiveAvgPool2d.
    Backward: each dL/dy goes to its window's first maximum (row-major); overlapping windows add.
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size
        adaptive_output_size((1, 1), output_size, self.label())

    def forward(self, x):
        return self._run("adaptive_max_pool2d", x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class GlobalAvgPool2d(_Pool2d):
    """Mean over each whole plane: (N, C, H, W) -> (N, C, 1, 1), as AdaptiveAvgPool2d(1).

    Forward: y[n, c, 0, 0] = sum_ab x[n, c, a, b] / (H*W). Backward: dL/dx[n, c, a, b] = dL/dy[n, c] / (H*W).
    """

    def forward(self, x):
        return self._run("adaptive_avg_pool2d", x, 1)


class GlobalMaxPool2d(_Pool2d):
    """Max over each whole plane: (N, C, H, W) -> (N, C, 1, 1), as AdaptiveMaxPool2d(1).

    Forward: y[n, c, 0, 0] = max_ab x[n, c, a, b]. Backward: dL/dy[n, c] goes to the plane's
    first maximum (row-major); every other position gets 0.
    """

    def forward(self, x):
        return self._run("adaptive_max_pool2d", x, 1)


class FractionalMaxPool2d(_Pool2d):
    """Fractional max pooling (Graham, 2014), PyTorch's FractionalMaxPool2d.

    Forward: y[n, c, i, j] = max of the K_h x K_w window at (r_i, s_j), whose starts are
    pseudo-random: per plane two samples u in [0, 1) are drawn from strided's seeded generator
    (``st.manual_seed``), and along each axis start_i = floor((i + u)*alpha) - floor(u*alpha),
    alpha = (I - K)/(O - 1), the last window ending at the input's edge. Exactly one of
    ``output_size`` (int or (h, w)) and ``output_ratio`` (in (0, 1); O = int(I * ratio)).
    The samples of the last forward are kept in ``last_samples`` (shape (N, C, 2), [..., 0] for
    the width, [..., 1] for the height, PyTorch's ``_random_samples`` layout); passing
    ``_random_samples`` fixes them for every forward, as in PyTorch.
    Backward: each dL/dy goes to its window's first maximum; overlapping windows add up.
    """

    def __init__(self, kernel_size, output_size=None, output_ratio=None, _random_samples=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.output_size = output_size
        self.output_ratio = output_ratio
        pair(kernel_size, "kernel_size", self.label())
        if (output_size is None) == (output_ratio is None):
            raise ValueError(f"{self.label()}: give exactly one of output_size and output_ratio, "
                             f"got output_size={output_size!r}, output_ratio={output_ratio!r}")
        if output_size is not None:
            pair(output_size, "output_size", self.label())
        else:
            ratios = (output_ratio, output_ratio) if isinstance(output_ratio, (int, float)) else output_ratio
            if not (isinstance(ratios, (tuple, list)) and len(ratios) == 2
                    and all(isinstance(r, (int, float)) and 0 < r < 1 for r in ratios)):
                raise ValueError(f"{self.label()}: output_ratio must be a number or a pair of numbers in (0, 1), "
                                 f"got {output_ratio!r}")
        self.register_buffer("_random_samples", None if _random_samples is None else np.asarray(_random_samples))
        self.last_samples = None

    def _samples(self, x) -> np.ndarray:
        shape = (x.shape[0], x.shape[1], 2)
        if self._random_samples is not None:
            if self._random_samples.shape != shape:
                raise ValueError(f"{self.label()}: _random_samples must have shape {shape} for input {x.shape}, "
                                 f"got {self._random_samples.shape}")
            return self._random_samples.astype(x.dtype, copy=False)
        if x.dtype in (np.float32, np.float64):
            return get_generator().random(shape, dtype=x.dtype)
        return get_generator().random(shape).astype(x.dtype)

    def forward(self, x):
        check_input(self, x, 4)
        out_hw = fractional_output_size(x.shape[2:], self.kernel_size, self.output_size, self.output_ratio,
                                        self.label())
        self.last_samples = self._samples(x)
        return self._run("fractional_max_pool2d", x, self.kernel_size, out_hw, self.last_samples)

    def extra_repr(self) -> str:
        if self.output_size is not None:
            return f"kernel_size={self.kernel_size}, output_size={self.output_size}"
        return f"kernel_size={self.kernel_size}, output_ratio={self.output_ratio}"
