"""Max and average pooling, the textbook way: gather every window, take its max or mean.

A window is K_h x K_w positions of x padded by ``padding`` (and by more on the bottom/right when
``ceil_mode`` lets the last window run past it), ``dilation`` apart, moved ``stride`` at a time; its
kernel offset k = p*K_w + q runs over the window in row-major order. With windows[n, c, i, j, k]:

    max:      y[n, c, i, j] = max_k windows[n, c, i, j, k]          (padding is -inf: it never wins)
              dL/dx at the window's first maximum k* += dL/dy[n, c, i, j]
    average:  y[n, c, i, j] = sum_k windows[n, c, i, j, k] / divisor[i, j]     (padding is 0)
              dL/dx at every position of the window += dL/dy[n, c, i, j] / divisor[i, j]

The windows and the divisor are ``geometry.pool_geometry`` and ``geometry.avg_pool_divisor``, which the
fast kernels (strided.functional.fast.pool) use too.
"""

import numpy as np

from ..dispatch import Context
from ..geometry import avg_pool_divisor, pool_geometry


def _padded(x: np.ndarray, geom, value) -> np.ndarray:
    (top, left), (bottom, right) = geom.pad_before, geom.pad_after
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def _cropped(grad_pad: np.ndarray, geom, input_shape) -> np.ndarray:
    (top, left), (h, w) = geom.pad_before, input_shape[2:]
    return np.ascontiguousarray(grad_pad[:, :, top:top + h, left:left + w])


def windows(x_pad: np.ndarray, geom) -> np.ndarray:
    """windows[n, c, i, j, k] = x_pad[n, c, i*s_h + p*d_h, j*s_w + q*d_w], k = p*K_w + q."""
    return np.stack(list(geom.views(x_pad)), axis=-1)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, need_backward=True,
                       who="max_pool2d"):
    """(y, ctx): y = the max of each window; ctx keeps k*, the offset of each window's first maximum."""
    geom = pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, ceil_mode, who)
    w = windows(_padded(x, geom, -np.inf), geom)
    first_max = np.argmax(w, axis=-1)  # np.argmax returns the first maximum: PyTorch's tie rule
    y = np.take_along_axis(w, first_max[..., None], axis=-1)[..., 0]  # y = max_k windows[..., k]
    if not need_backward:
        return y, None
    return y, Context(max_pool2d_backward, geom=geom, first_max=first_max, input_shape=x.shape)


def max_pool2d_backward(ctx, grad_out):
    """dL/dx: dL/dy goes to the first maximum of its window; one slice addition per kernel offset k."""
    grad_pad = _padded(np.zeros(ctx.input_shape, grad_out.dtype), ctx.geom, 0)
    for k, view in enumerate(ctx.geom.views(grad_pad)):
        view += grad_out * (ctx.first_max == k)
    return _cropped(grad_pad, ctx.geom, ctx.input_shape)


def avg_pool2d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                       divisor_override=None, need_backward=True, who="avg_pool2d"):
    """(y, ctx): y = the sum of each window (zero padding included) / its divisor."""
    geom = pool_geometry(x.shape[2:], kernel_size, stride, padding, 1, ceil_mode, who)
    divisor = avg_pool_divisor(x.shape[2:], geom, count_include_pad, divisor_override, x.dtype)
    y = windows(_padded(x, geom, 0), geom).sum(axis=-1) / divisor  # y = sum_k windows / divisor
    if not need_backward:
        return y, None
    return y, Context(avg_pool2d_backward, geom=geom, divisor=divisor, input_shape=x.shape)


def avg_pool2d_backward(ctx, grad_out):
    """dL/dx: dL/dy / divisor added to every position of its window; one slice addition per offset k."""
    share = grad_out / ctx.divisor
    grad_pad = _padded(np.zeros(ctx.input_shape, grad_out.dtype), ctx.geom, 0)
    for view in ctx.geom.views(grad_pad):
        view += share
    return _cropped(grad_pad, ctx.geom, ctx.input_shape)
