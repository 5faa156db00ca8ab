"""Batch normalisation (Ioffe and Szegedy, 2015), the textbook way: per-channel statistics by broadcasting.

Input (N, C, *); each channel's statistics are over its n = N * prod(*) values:

    mean = sum(x) / n,   var = sum((x - mean)^2) / n,   x_hat = (x - mean) / sqrt(var + eps)
    y = weight * x_hat + bias

Training uses the batch's mean and var, so dL/dx goes through them too (g_hat = dL/dy * weight, means
per channel):  dL/dx = (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) / sqrt(var + eps).
Evaluation uses fixed running statistics: dL/dx = g_hat / sqrt(running_var + eps).
Both: dL/dweight = sum(dL/dy * x_hat), dL/dbias = sum(dL/dy).
"""

import numpy as np

from ..dispatch import Context


def _per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
    """(C,) -> (1, C, 1, ...): broadcasts along axis 1 of an array of rank ``ndim``."""
    return values.reshape((1, -1) + (1,) * (ndim - 2))


def update_running_stats(running_mean, running_var, mean, var, n: int, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch, in place, with the unbiased n/(n-1) var."""
    running_mean *= 1.0 - momentum
    running_mean += mean * momentum
    running_var *= 1.0 - momentum
    running_var += var * (momentum * n / (n - 1))


def batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, need_backward=True):
    """(y, ctx), torch.nn.functional.batch_norm: with ``training`` the batch's statistics (and the running
    ones, if given, updated in place with ``momentum``), else the running ones."""
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1] if x.shape[1] else 0
    if training and n == 0:  # an empty batch: nothing to normalise, no statistics to learn (PyTorch)
        y = x.copy()
        return y, Context(batch_norm_backward, x_hat=x, inv_std=np.ones(x.shape[1], x.dtype), weight=weight,
                          training=True)
    if training:
        mean = x.mean(axis=axes)  # mean = sum(x) / n
        var = ((x - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)  # var = sum((x - mean)^2) / n (biased)
        if running_mean is not None:
            update_running_stats(running_mean, running_var, mean, var, n, momentum)
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)  # (x - mean) / sqrt(var + eps)
    y = x_hat if weight is None else x_hat * _per_channel(weight, x.ndim)  # weight * x_hat
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)  # + bias
    y = y.astype(x.dtype, copy=False)
    if not need_backward:
        return y, None
    return y, Context(batch_norm_backward, x_hat=x_hat, inv_std=inv_std, weight=weight, training=training)


def batch_norm_backward(ctx, grad_out):
    """(dL/dx, dL/dweight, dL/dbias); the parameter gradients are returned even without an affine."""
    x_hat, ndim = ctx.x_hat, grad_out.ndim
    axes = (0,) + tuple(range(2, ndim))
    grad_bias = grad_out.sum(axis=axes)  # dL/dbias = sum(dL/dy)
    grad_weight = (grad_out * x_hat).sum(axis=axes)  # dL/dweight = sum(dL/dy * x_hat)
    g_hat = grad_out if ctx.weight is None else grad_out * _per_channel(ctx.weight, ndim)
    if ctx.training and grad_out.size:  # the batch statistics depend on x
        g_hat = g_hat - g_hat.mean(axis=axes, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=axes, keepdims=True)
    grad_x = g_hat * _per_channel(ctx.inv_std, ndim)  # ... / sqrt(var + eps)
    return grad_x.astype(grad_out.dtype, copy=False), grad_weight, grad_bias
