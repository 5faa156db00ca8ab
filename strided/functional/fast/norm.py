"""Batch normalisation, fast: must equal strided.functional.reference.norm.batch_norm_forward and
batch_norm_backward. Per-channel statistics, forward, and the two backward passes.

Input is (N, C, *), i.e. (N, C), (N, C, L) or (N, C, H, W); every statistic is per channel, taken over
the other axes, so with n = N * prod(*) values per channel:

    mean = sum(x) / n,   var = sum((x - mean)^2) / n        (biased: what normalisation uses)
    x_hat = (x - mean) / sqrt(var + eps),   y = weight * x_hat + bias

In training the statistics are this batch's, so they depend on x and the backward pass goes
through them; in evaluation they are fixed running statistics and backward is a per-channel
affine map. Per-channel arrays have shape (C,); ``_channel_op`` applies them along each channel.
"""

import math

import numpy as np

from ..dispatch import Context
from ..reference.norm import update_running_stats
from .threads import batch_slices, parallel_for
from .workspace import new_array

# From this many samples on, per-channel operations run along repeated rows (see _spread): measured faster
# from 4 samples of (32, 28, 28) on (88 against 106 us), slower for 1 (61 against 43 us).
SPREAD_MIN_SAMPLES = 4


def _rows(a: np.ndarray) -> np.ndarray:
    """a as (N, C * L): one row per sample."""
    return a.reshape(a.shape[0], math.prod(a.shape[1:]))


def _spread(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per-channel values (C,) repeated along a row of ``_rows(x)``: ``_rows(x) * _spread(v, x)`` is x * v per
    channel. A per-sample row of C * L values makes NumPy's inner loop long and contiguous; broadcasting a
    (1, C, 1, 1) array instead runs one short loop per (sample, channel), 1.4 to 2 times slower."""
    return np.repeat(values.astype(x.dtype, copy=False), math.prod(x.shape[2:]))


def _channel_op(op, a: np.ndarray, values: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """op(a, values per channel), shaped like a (into ``out`` if given).

    On pieces of the batch on strided's threads (fast/threads.py) when large: training batch norm on
    (128, 32, 28, 28) float32, 2 threads against 1, forward 6.2-11.8 against 7.6-23.8 ms (best of 25),
    backward 6.8-11.1 against 15.2-34.7 ms, the same CPU time (load 10-12 on 2 cores). The per-channel sums
    stay one pass: cutting them would change their rounding with the thread count.
    """
    out = new_array(a.shape, a.dtype) if out is None else out
    if a.shape[0] < SPREAD_MIN_SAMPLES:  # the repeated row would be as large as a itself: broadcast instead
        return op(a, values.astype(a.dtype, copy=False).reshape((1, -1) + (1,) * (a.ndim - 2)), out=out)
    rows, spread, slices = _rows(a), _spread(values, a), batch_slices(a)
    if len(slices) == 1:
        op(rows, spread, out=_rows(out))
        return out
    out_rows = _rows(out)
    parallel_for(lambda s: op(rows[s], spread, out=out_rows[s]), slices)  # pieces of the batch, threads
    return out


def _as_ncl(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], a.shape[1], math.prod(a.shape[2:]))


def channel_sum(a: np.ndarray) -> np.ndarray:
    """sum of a over every axis but the channel axis 1, shape (C,).

    einsum reduces in one pass without temporaries: about three times faster than
    np.sum(axis=(0, 2, 3)), and as accurate on these sizes."""
    return np.einsum("ncl->c", _as_ncl(a))


def channel_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum of a * b over every axis but the channel axis 1, without forming a * b."""
    return np.einsum("ncl,ncl->c", _as_ncl(a), _as_ncl(b))


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
    n = values_per_channel(x)
    mean = channel_sum(x) / n
    centred = _channel_op(np.subtract, x, mean)
    var = channel_dot(centred, centred) / n
    inv_std = 1.0 / np.sqrt(var + eps)
    scale = inv_std if weight is None else inv_std * weight
    y = _channel_op(np.multiply, centred, scale)
    if bias is not None:
        _channel_op(np.add, y, bias, out=y)
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
    y = _channel_op(np.multiply, x, alpha)
    _channel_op(np.add, y, beta, out=y)
    return y, inv_std


def batch_norm_grad_train(grad, centred, inv_std, weight):
    """Backward when the statistics came from this batch (so they depend on x too).

    With g_hat = grad * weight:
        dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))     (means per channel)
        dweight = sum(grad * x_hat),   dbias = sum(grad)
    Returns (dx, dweight, dbias).
    """
    n = values_per_channel(grad)
    dbias = channel_sum(grad)
    dweight = channel_dot(grad, centred) * inv_std  # sum(grad * x_hat) = inv_std * sum(grad * centred)
    w = np.ones_like(inv_std) if weight is None else weight
    # dx = a * grad - b * centred - c, per-channel coefficients a, b, c:
    a = w * inv_std
    b = a * inv_std * dweight / n
    c = a * dbias / n
    dx = _channel_op(np.multiply, grad, a)
    dx -= _channel_op(np.multiply, centred, b)
    _channel_op(np.subtract, dx, c, out=dx)
    return dx, dweight, dbias


def batch_norm_grad_eval(grad, x, running_mean, inv_std, weight):
    """Backward when the statistics were fixed (running statistics): a per-channel affine map.

        dx = grad * weight * inv_std,   dweight = sum(grad * x_hat),   dbias = sum(grad)
    with x_hat = (x - running_mean) * inv_std. Returns (dx, dweight, dbias).
    """
    dbias = channel_sum(grad)
    dweight = channel_dot(grad, _channel_op(np.subtract, x, running_mean)) * inv_std
    scale = inv_std if weight is None else weight * inv_std
    return _channel_op(np.multiply, grad, scale), dweight, dbias


def batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, need_backward=True):
    """(y, ctx), torch.nn.functional.batch_norm (see the reference for the arguments)."""
    n = values_per_channel(x)
    if training and n == 0:  # an empty batch: nothing to normalise, no statistics to learn (PyTorch)
        return x.copy(), Context(batch_norm_backward, empty=True, weight=weight)
    if training:
        y, centred, inv_std, mean, var = batch_norm_train(x, weight, bias, eps)
        if running_mean is not None:
            update_running_stats(running_mean, running_var, mean, var, n, momentum)
        saved = dict(centred=centred)
    else:
        y, inv_std = batch_norm_eval(x, running_mean, running_var, weight, bias, eps)
        saved = dict(x=x, running_mean=running_mean.copy())  # the running mean changes in place later
    if not need_backward:
        return y, None
    return y, Context(batch_norm_backward, empty=False, training=training, inv_std=inv_std, weight=weight, **saved)


def batch_norm_backward(ctx, grad_out):
    """(dL/dx, dL/dweight, dL/dbias)."""
    if ctx.empty:
        channels = np.zeros(grad_out.shape[1], grad_out.dtype)
        return grad_out.copy(), channels, channels.copy()
    if ctx.training:
        return batch_norm_grad_train(grad_out, ctx.centred, ctx.inv_std, ctx.weight)
    return batch_norm_grad_eval(grad_out, ctx.x, ctx.running_mean, ctx.inv_std, ctx.weight)
