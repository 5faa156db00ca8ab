"""Batch norm + (residual add) + ReLU in one kernel, fast: must equal strided.functional.reference.norm_act
(batch_norm_relu_forward and batch_norm_relu_backward): y = relu(batch_norm(x) + residual).

What fusing saves over the three layers one after the other (fast/norm.py's passes are reused as they are):
* the add and the ReLU run in place on the batch norm's fresh output: two fewer full-size arrays allocated
  (and page-faulted) per step;
* the backward keeps a boolean mask of y > 0 (1 byte per value) instead of ReLU's float output (4 bytes),
  and its one product grad * mask feeds the batch norm's backward and the residual's gradient alike.
"""

import numpy as np

from ..dispatch import Context
from ..reference.norm import update_running_stats
from ..reference.norm_act import batch_norm_relu_forward as reference_forward
from .activation import relu
from .norm import (
    _channel_op,
    batch_norm_eval,
    batch_norm_grad_eval,
    batch_norm_grad_train,
    batch_norm_train,
    channel_dot,
    channel_sum,
    values_per_channel,
)


def batch_norm_relu_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, residual=None,
                            need_backward=True):
    """(y, ctx): y = relu(batch_norm(x) + residual), batch_norm's arguments as in fast/norm.py."""
    n = values_per_channel(x)
    if training and n == 0:  # an empty batch: nothing to compute; the reference's copy semantics
        return reference_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, residual,
                                 need_backward)
    if training:
        y, centred, inv_std, mean, var = batch_norm_train(x, weight, bias, eps)
        if running_mean is not None:
            update_running_stats(running_mean, running_var, mean, var, n, momentum)
        saved = dict(centred=centred)
    else:
        y, inv_std = batch_norm_eval(x, running_mean, running_var, weight, bias, eps)
        saved = dict(x=x, running_mean=running_mean.copy())  # the running mean changes in place later
    if residual is not None:
        y += residual  # y is the batch norm's own new array: safe to overwrite
    relu(y, out=y)
    if not need_backward:
        return y, None
    return y, Context(batch_norm_relu_backward, training=training, inv_std=inv_std, weight=weight,
                      positive=y > 0, has_residual=residual is not None, **saved)


def batch_norm_relu_backward(ctx, grad_out):
    """(dL/dx, dL/dweight, dL/dbias, dL/dresidual or None): g = grad_out * (y > 0) through the ReLU, then
    batch norm's backward of g; the residual's gradient is g itself."""
    grad = np.multiply(grad_out, ctx.positive, dtype=grad_out.dtype)
    if ctx.training and not ctx.has_residual:  # grad is this kernel's own array: dx may overwrite it
        dx, dweight, dbias = _grad_train_into(grad, ctx.centred, ctx.inv_std, ctx.weight)
    elif ctx.training:
        dx, dweight, dbias = batch_norm_grad_train(grad, ctx.centred, ctx.inv_std, ctx.weight)
    else:
        dx, dweight, dbias = batch_norm_grad_eval(grad, ctx.x, ctx.running_mean, ctx.inv_std, ctx.weight)
    return dx, dweight, dbias, grad if ctx.has_residual else None


def _grad_train_into(grad, centred, inv_std, weight):
    """batch_norm_grad_train, with dx written over ``grad``: dx = a * grad - (b * centred + c) per channel."""
    n = values_per_channel(grad)
    dbias = channel_sum(grad)
    dweight = channel_dot(grad, centred) * inv_std
    a = inv_std if weight is None else weight * inv_std
    b, c = a * inv_std * dweight / n, a * dbias / n
    shift = _channel_op(np.multiply, centred, b)
    _channel_op(np.add, shift, c, out=shift)
    dx = _channel_op(np.multiply, grad, a, out=grad)
    dx -= shift
    return dx, dweight, dbias
