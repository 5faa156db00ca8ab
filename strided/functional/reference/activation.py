"""Activation functions, the textbook way: each forward, and right under it the derivative its backward uses.

A forward returns (y, ctx); ``ctx.backward(grad_out)`` returns dL/dx from grad_out = dL/dy (g below).
Softmax and log-softmax act along one axis ``dim``; the others elementwise.
"""

import math

import numpy as np

from ..dispatch import Context
from ..erf import erfc


def _keep(backward, need_backward, **saved):
    return Context(backward, **saved) if need_backward else None


def relu_forward(x, need_backward=True, out=None):
    y = np.maximum(x, 0, out=out)  # y = max(x, 0)  (into ``out``, which may be x itself)
    return y, _keep(relu_backward, need_backward, y=y)


def relu_backward(ctx, grad_out):
    return np.where(ctx.y > 0, grad_out, 0).astype(grad_out.dtype)  # dy/dx = 1 where y > 0 (x > 0), else 0


def leaky_relu_forward(x, negative_slope=0.01, need_backward=True):
    y = np.where(x > 0, x, x * negative_slope)  # y = x if x > 0 else slope * x
    return y, _keep(leaky_relu_backward, need_backward, x=x, slope=negative_slope)


def leaky_relu_backward(ctx, grad_out):
    return np.where(ctx.x > 0, grad_out, grad_out * ctx.slope)  # dy/dx = 1 or slope


def elu_forward(x, alpha=1.0, need_backward=True):
    y = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))  # y = x if x > 0 else alpha * (exp(x) - 1)
    return y.astype(x.dtype, copy=False), _keep(elu_backward, need_backward, x=x, alpha=alpha)


def elu_backward(ctx, grad_out):
    # dy/dx = 1 for x > 0, else alpha * exp(x)
    return np.where(ctx.x > 0, grad_out, grad_out * ctx.alpha * np.exp(np.minimum(ctx.x, 0)))


_SQRT_2_OVER_PI, _CUBIC = math.sqrt(2.0 / math.pi), 0.044715


def _normal_cdf(x):
    return erfc(-x / math.sqrt(2.0)) / 2  # Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2


def gelu_forward(x, approximate="none", need_backward=True):
    if approximate == "tanh":  # Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
        y = x * (1 + np.tanh(_SQRT_2_OVER_PI * (x + _CUBIC * x ** 3))) / 2
    else:
        y = x * _normal_cdf(x)  # y = x * Phi(x)
    return y, _keep(gelu_backward, need_backward, x=x, approximate=approximate)


def gelu_backward(ctx, grad_out):
    x = ctx.x
    if ctx.approximate == "tanh":
        t = np.tanh(_SQRT_2_OVER_PI * (x + _CUBIC * x ** 3))
        return grad_out * ((1 + t) / 2 + x * (1 - t * t) * _SQRT_2_OVER_PI * (1 + 3 * _CUBIC * x * x) / 2)
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # phi(x), the normal density
    return grad_out * (_normal_cdf(x) + x * pdf)  # dy/dx = Phi(x) + x * phi(x)


def sigmoid_forward(x, need_backward=True):
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives y = 0, the right value
        y = 1 / (1 + np.exp(-x))  # y = 1 / (1 + exp(-x))
    return y, _keep(sigmoid_backward, need_backward, y=y)


def sigmoid_backward(ctx, grad_out):
    return grad_out * ctx.y * (1 - ctx.y)  # dy/dx = y (1 - y)


def tanh_forward(x, need_backward=True):
    y = np.tanh(x)
    return y, _keep(tanh_backward, need_backward, y=y)


def tanh_backward(ctx, grad_out):
    return grad_out * (1 - ctx.y ** 2)  # dy/dx = 1 - y^2


def softmax_forward(x, dim, need_backward=True):
    e = np.exp(x - x.max(axis=dim, keepdims=True))  # the max subtracted: exp cannot overflow
    y = e / e.sum(axis=dim, keepdims=True)  # y_i = exp(x_i) / sum_j exp(x_j)
    return y, _keep(softmax_backward, need_backward, y=y, dim=dim)


def softmax_backward(ctx, grad_out):
    y = ctx.y
    return y * (grad_out - (grad_out * y).sum(axis=ctx.dim, keepdims=True))  # (diag(y) - y y^T) grad_out


def log_softmax_forward(x, dim, need_backward=True):
    shifted = x - x.max(axis=dim, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))  # y_i = x_i - log sum_j exp(x_j)
    return y, _keep(log_softmax_backward, need_backward, y=y, dim=dim)


def log_softmax_backward(ctx, grad_out):
    return grad_out - np.exp(ctx.y) * grad_out.sum(axis=ctx.dim, keepdims=True)  # dx = g - softmax(x) sum(g)
