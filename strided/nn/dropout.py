"""Dropout: during training, zero random elements (or whole channels) and scale the rest up.

Inverted dropout, as PyTorch: each element is kept with probability 1 - p and multiplied by
1 / (1 - p), so the expected output equals the input and evaluation needs no rescaling (in eval
mode the layer is the identity). Masks come from strided's seeded generator (``st.manual_seed``).
The math is in strided/functional/reference/dropout.py.
"""

import numpy as np

from ..functional.dispatch import kernels
from ..grad_mode import is_grad_enabled
from .checks import check_array, check_grad
from .module import Module

__all__ = ["Dropout", "Dropout2d"]


class _DropoutBase(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def _mask_shape(self, x: np.ndarray) -> tuple:
        raise NotImplementedError

    def forward(self, x):
        check_array(self, x)
        if not self.training or self.p == 0.0:
            self.save_for_backward(x.shape, None)
            return x
        y, ctx = kernels().dropout_forward(x, self.p, self._mask_shape(x), is_grad_enabled())
        self.save_for_backward(x.shape, ctx)
        return y

    def backward(self, grad_out):
        shape, ctx = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return grad_out if ctx is None else ctx.backward(grad_out)

    def label(self):
        return f"{type(self).__name__}(p={self.p})"

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutBase):
    """Training: y = x * m / (1 - p), each m_i ~ Bernoulli(1 - p) independently; eval: y = x.

    Backward: dx = grad * m / (1 - p) with the same mask (dx = grad in eval mode).
    """

    def _mask_shape(self, x):
        return x.shape


class Dropout2d(_DropoutBase):
    """Drops whole channels: for NCHW input (or (N, C, L)), y[n, c] = x[n, c] * m[n, c] / (1 - p).

    Neighbouring pixels of a feature map are strongly correlated, so zeroing single pixels barely
    regularises convolutional layers; zeroing a whole map does (Tompson et al., 2015).
    Backward: dx = grad * m / (1 - p), with the same channel mask. Eval mode: the identity.
    """

    def forward(self, x):
        check_array(self, x)
        if x.ndim not in (3, 4):
            raise ValueError(f"{self.label()}: expected input of shape (N, C, H, W) or (N, C, L), got {x.shape}")
        return super().forward(x)

    def _mask_shape(self, x):
        return x.shape[:2] + (1,) * (x.ndim - 2)
