"""Activation functions, fast: must equal strided.functional.reference.activation (same names).

Each forward beside its backward (elementwise, plus softmax over one axis); the speed comes from
NumPy's SIMD loops (comparisons against shared zeros, masks instead of np.where).

A backward takes the gradient of the loss with respect to the output, ``grad``, and what the
forward kept (its input ``x`` or its output ``y``, whichever makes the derivative cheaper), and
returns the gradient with respect to the input. Every function keeps the dtype it is given:
constants are Python floats, which NumPy does not let upcast a float32 array.

Piecewise functions multiply by boolean masks instead of calling np.where: with a scattered mask
np.where is several times slower, and ``a * mask + b * ~mask`` is exact (one term is zero).
"""

import math

import numpy as np

from ..dispatch import Context
from ..erf import erfc
from .workspace import new_array, shared_zeros

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_TANH_CUBIC = 0.044715


# ---------------------------------------------------------------- ReLU family
def relu(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """y = max(x, 0), into ``out`` if given (``out=x`` works in place)."""
    # Against an array of zeros rather than the scalar 0: NumPy's SIMD loop for maximum needs two
    # arrays, 2 to 4 times faster (see shared_zeros).
    return np.maximum(x, shared_zeros(x.shape, x.dtype), out=new_array(x.shape, x.dtype) if out is None else out)


def positive_mask(y: np.ndarray) -> np.ndarray:
    """y > 0, as booleans (NaN is not > 0)."""
    # A plain allocation, not new_array: a mask is a quarter of a float32 array's size, and taking it from
    # the pool's float-sized buffers left the rest of each idle (resnet-cifar's step: 67.2 against 62.3 MB).
    return np.greater(y, shared_zeros(y.shape, y.dtype))


def masked_grad(grad: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """grad where mask, else 0: ReLU's dx with mask = y > 0 (0 at x = 0, as PyTorch). A product with the
    booleans: np.where on a scattered mask is slower."""
    if grad.shape != mask.shape or grad.dtype.kind != "f":
        return grad * mask
    return np.multiply(grad, mask, out=new_array(grad.shape, grad.dtype))


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """y = x if x > 0 else negative_slope * x."""
    # max(x, s x) is that for any s <= 1 (negative s too), min(x, s x) for s > 1.
    return np.maximum(x, x * negative_slope) if negative_slope <= 1 else np.minimum(x, x * negative_slope)


def leaky_relu_grad(grad: np.ndarray, x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """dx = grad if x > 0 else negative_slope * grad."""
    positive = x > 0
    return grad * positive + (grad * negative_slope) * ~positive


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    # One of the two terms is exactly zero: max(x, 0) for x <= 0, expm1(0) = 0 for x > 0.
    return relu(x) + np.expm1(np.minimum(x, shared_zeros(x.shape, x.dtype))) * alpha


def elu_grad(grad: np.ndarray, x: np.ndarray, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """dx = grad if x > 0 else grad * alpha * exp(x), where alpha * exp(x) = y + alpha (no second exp)."""
    positive = x > 0
    return grad * (positive + (y + alpha) * ~positive)


# ---------------------------------------------------------------- GELU
def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Phi(x) = (1 + erf(x / sqrt(2))) / 2, computed as erfc(-x / sqrt(2)) / 2, which keeps its
    relative accuracy for large negative x where 1 + erf cancels."""
    return erfc(x * -_SQRT_HALF) * 0.5


def gelu(x: np.ndarray, approximate: str = "none", cdf: np.ndarray | None = None) -> np.ndarray:
    """y = x * Phi(x), Phi the standard normal CDF (exact, or ``cdf`` if already computed);
    approximate='tanh' uses Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    if approximate == "tanh":
        inner = (x + (x * x * x) * _GELU_TANH_CUBIC) * _SQRT_2_OVER_PI
        return x * (np.tanh(inner) + 1.0) * 0.5
    return x * (normal_cdf(x) if cdf is None else cdf)


def gelu_grad(grad: np.ndarray, x: np.ndarray, approximate: str = "none",
                  cdf: np.ndarray | None = None) -> np.ndarray:
    """dx = grad * (Phi(x) + x * phi(x)) with phi the normal density (or the tanh form's derivative).

    ``cdf`` = Phi(x) from the forward pass saves computing erf a second time."""
    if approximate == "tanh":
        x_sq = x * x
        t = np.tanh((x + x_sq * x * _GELU_TANH_CUBIC) * _SQRT_2_OVER_PI)
        d_inner = (x_sq * (3.0 * _GELU_TANH_CUBIC) + 1.0) * _SQRT_2_OVER_PI
        return grad * ((t + 1.0) * 0.5 + x * (1.0 - t * t) * d_inner * 0.5)
    cdf = normal_cdf(x) if cdf is None else cdf
    pdf = np.exp(x * x * -0.5) * _INV_SQRT_2PI
    return grad * (cdf + x * pdf)


# ---------------------------------------------------------------- squashing functions
def sigmoid(x: np.ndarray) -> np.ndarray:
    """y = 1 / (1 + exp(-x)). For x below about -88 (float32) exp(-x) overflows to inf and y to 0,
    which is the correctly rounded value there, so the overflow is expected and silenced."""
    with np.errstate(over="ignore"):
        e = np.exp(-x)
    e += 1.0
    return np.reciprocal(e, out=e)


def sigmoid_grad(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = grad * y * (1 - y)."""
    return grad * (y * (1.0 - y))


def tanh(x: np.ndarray) -> np.ndarray:
    """y = tanh(x)."""
    return np.tanh(x)


def tanh_grad(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dx = grad * (1 - y^2)."""
    return grad * (1.0 - y * y)


# ---------------------------------------------------------------- softmax over one axis
def softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """y = exp(x - max) / sum(exp(x - max)) along ``dim`` (subtracting the max keeps exp finite)."""
    e = np.exp(x - np.max(x, axis=dim, keepdims=True))
    e /= np.sum(e, axis=dim, keepdims=True)
    return e


def softmax_grad(grad: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """dx = y * (grad - sum(grad * y)) along ``dim`` (the Jacobian diag(y) - y y^T applied to grad)."""
    return y * (grad - np.sum(grad * y, axis=dim, keepdims=True))


def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """y = (x - max) - log(sum(exp(x - max))) along ``dim``."""
    shifted = x - np.max(x, axis=dim, keepdims=True)
    shifted -= np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))
    return shifted


def log_softmax_grad(grad: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """dx = grad - exp(y) * sum(grad) along ``dim`` (exp(y) is the softmax)."""
    return grad - np.exp(y) * np.sum(grad, axis=dim, keepdims=True)


# ---------------------------------------------------------------- the kernel interface: (y, ctx), ctx.backward(grad)
def _keep(backward, need_backward, **saved):
    return Context(backward, **saved) if need_backward else None


def relu_forward(x, need_backward=True, out=None):
    y = relu(x, out=out)
    # The backward reads only where y > 0: kept as 1 byte a value rather than y itself (4), so that y can be
    # freed once the next layer is done with it (a convolution keeps its own padded copy). With the
    # convolution's shared gradient buffer (conv.py), resnet-cifar's step grew 56.3 MB instead of 65.7.
    return y, _keep(relu_backward, need_backward, positive=positive_mask(y) if need_backward else None)


def relu_backward(ctx, grad_out):
    return masked_grad(grad_out, ctx.positive)


def leaky_relu_forward(x, negative_slope=0.01, need_backward=True):
    return leaky_relu(x, negative_slope), _keep(leaky_relu_backward, need_backward, x=x, slope=negative_slope)


def leaky_relu_backward(ctx, grad_out):
    return leaky_relu_grad(grad_out, ctx.x, ctx.slope)


def elu_forward(x, alpha=1.0, need_backward=True):
    y = elu(x, alpha)
    return y, _keep(elu_backward, need_backward, x=x, y=y, alpha=alpha)  # alpha*exp(x) = y + alpha: no 2nd exp


def elu_backward(ctx, grad_out):
    return elu_grad(grad_out, ctx.x, ctx.y, ctx.alpha)


def gelu_forward(x, approximate="none", need_backward=True):
    # The exact form keeps Phi(x), so that the backward does not evaluate erf a second time.
    cdf = normal_cdf(x) if approximate == "none" else None
    return gelu(x, approximate, cdf), _keep(gelu_backward, need_backward, x=x, approximate=approximate, cdf=cdf)


def gelu_backward(ctx, grad_out):
    return gelu_grad(grad_out, ctx.x, ctx.approximate, ctx.cdf)


def sigmoid_forward(x, need_backward=True):
    y = sigmoid(x)
    return y, _keep(sigmoid_backward, need_backward, y=y)


def sigmoid_backward(ctx, grad_out):
    return sigmoid_grad(grad_out, ctx.y)


def tanh_forward(x, need_backward=True):
    y = tanh(x)
    return y, _keep(tanh_backward, need_backward, y=y)


def tanh_backward(ctx, grad_out):
    return tanh_grad(grad_out, ctx.y)


def softmax_forward(x, dim, need_backward=True):
    y = softmax(x, dim)
    return y, _keep(softmax_backward, need_backward, y=y, dim=dim)


def softmax_backward(ctx, grad_out):
    return softmax_grad(grad_out, ctx.y, ctx.dim)


def log_softmax_forward(x, dim, need_backward=True):
    y = log_softmax(x, dim)
    return y, _keep(log_softmax_backward, need_backward, y=y, dim=dim)


def log_softmax_backward(ctx, grad_out):
    return log_softmax_grad(grad_out, ctx.y, ctx.dim)
