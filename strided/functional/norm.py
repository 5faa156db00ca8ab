"""Batch normalisation kernels: per-channel statistics, forward, and the two backward passes.

Input is (N, C, *), i.e. (N, C), (N, C, L) or (N, C, H, W); every statistic is per channel, taken over
the other axes, so with n = N * prod(*) values per channel:

    mean = sum(x) / n,   var = sum((x - mean)^2) / n        (biased: what normalisation uses)
    x_hat = (x - mean) / sqrt(var + eps),   y = weight * x_hat + bias

In training the statistics are this batch's, so they depend on x and the backward pass goes
through them; in evaluation they are fixed running statistics and backward is a per-channel
affine map. Per-channel arrays have shape (C,); ``_per_channel`` reshapes them to broadcast.
"""

import numpy as np


def _axes(x: np.ndarray) -> tuple:
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    return values.reshape((1, -1) + (1,) * (x.ndim - 2))


def values_per_channel(x: np.ndarray) -> int:
    """n = N * prod(spatial dims): how many values each channel's statistics are taken over."""
    return x.size // x.shape[1] if x.shape[1] else 0


def batch_norm_train(x, weight, bias, eps):
    """Normalise with this batch's statistics: y = (x - mean) / sqrt(var + eps) * weight + bias.

    weight and bias may be None (no affine). The variance is computed in two passes, from the
    centred values, which stays accurate when |mean| >> std. Returns (y, centred, inv_std, mean,
    var): centred = x - mean and inv_std = 1 / sqrt(var + eps) are what backward needs; mean and
    the biased var (C,) feed the running statistics.
    """
    mean = np.mean(x, axis=_axes(x))
    centred = x - _per_channel(mean, x)
    var = np.mean(centred * centred, axis=_axes(x))
    inv_std = 1.0 / np.sqrt(var + eps)
    scale = inv_std if weight is None else inv_std * weight
    y = centred * _per_channel(scale, x)
    if bias is not None:
        y += _per_channel(bias, x)
    return y, centred, inv_std, mean, var


def batch_norm_eval(x, running_mean, running_var, weight, bias, eps):
    """Normalise with fixed statistics: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias.

    Computed as y = x * alpha + beta with per-channel alpha = weight / sqrt(running_var + eps) and
    beta = bias - running_mean * alpha (two passes over x instead of three; PyTorch does the same).
    Returns (y, inv_std).
    """
    inv_std = 1.0 / np.sqrt(running_var + eps)
    alpha = inv_std if weight is None else inv_std * weight
    beta = -running_mean * alpha if bias is None else bias - running_mean * alpha
    y = x * _per_channel(alpha, x)
    y += _per_channel(beta, x)
    return y, inv_std


def batch_norm_backward_train(grad, centred, inv_std, weight):
    """Backward when the statistics came from this batch (so they depend on x too).

    With g_hat = grad * weight:
        dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))     (means per channel)
        dweight = sum(grad * x_hat),   dbias = sum(grad)
    Returns (dx, dweight, dbias).
    """
    axes = _axes(grad)
    n = values_per_channel(grad)
    dbias = np.sum(grad, axis=axes)
    # sum(grad * x_hat) = inv_std * sum(grad * centred): one full-size product instead of two.
    dweight = np.sum(grad * centred, axis=axes) * inv_std
    w = np.ones_like(inv_std) if weight is None else weight
    # dx = a * grad - b * centred - c, per-channel coefficients a, b, c:
    a = w * inv_std
    b = a * inv_std * dweight / n
    c = a * dbias / n
    dx = grad * _per_channel(a, grad)
    dx -= centred * _per_channel(b, grad)
    dx -= _per_channel(c, grad)
    return dx, dweight, dbias


def batch_norm_backward_eval(grad, x, running_mean, inv_std, weight):
    """Backward when the statistics were fixed (running statistics): a per-channel affine map.

        dx = grad * weight * inv_std,   dweight = sum(grad * x_hat),   dbias = sum(grad)
    with x_hat = (x - running_mean) * inv_std. Returns (dx, dweight, dbias).
    """
    axes = _axes(grad)
    dbias = np.sum(grad, axis=axes)
    dweight = np.sum(grad * (x - _per_channel(running_mean, x)), axis=axes) * inv_std
    scale = inv_std if weight is None else weight * inv_std
    return grad * _per_channel(scale, grad), dweight, dbias


__all__ = [
    "batch_norm_backward_eval", "batch_norm_backward_train", "batch_norm_eval", "batch_norm_train",
    "values_per_channel",
]
