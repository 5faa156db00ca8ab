"""Inverted dropout (as PyTorch): keep each element with probability 1 - p and scale it by 1 / (1 - p).

    y = x * m / (1 - p),  m ~ Bernoulli(1 - p)        dL/dx = g * m / (1 - p) (the same mask)

The mask comes from strided's seeded generator (``st.manual_seed``): float32 draws u, kept where u >= p.
``mask_shape`` broadcasts against x: x.shape (Dropout) or (N, C, 1, 1) (Dropout2d: whole channels).
There is no faster path: strided.functional.fast uses this kernel as it is.
"""

import numpy as np

from ...rng import get_generator
from ..dispatch import Context


def dropout_mask(shape: tuple, p: float, dtype) -> np.ndarray:
    """m / (1 - p): 0 or 1/(1-p), each 1/(1-p) with probability 1 - p (all zeros when p = 1)."""
    if p >= 1.0:
        return np.zeros(shape, dtype=dtype)
    # float32 draws whatever the dtype: half the memory of float64, and the same mask for a model in
    # float32 or in float64 under the same seed.
    keep = get_generator().random(shape, dtype=np.float32) >= p
    return keep.astype(dtype) * (1.0 / (1.0 - p))


def dropout_forward(x, p, mask_shape=None, need_backward=True):
    """(y, ctx): y = x * m / (1 - p)."""
    mask = dropout_mask(x.shape if mask_shape is None else mask_shape, p, x.dtype)
    return x * mask, (Context(dropout_backward, mask=mask) if need_backward else None)


def dropout_backward(ctx, grad_out):
    return grad_out * ctx.mask  # dL/dx = g * m / (1 - p)
