"""torch.nn.functional's cross_entropy, nll_loss and mse_loss (class-index targets), with their backward.

Each loss is per-element losses (the kernels of strided.functional.reference.loss) then a reduction:
'none', 'sum', or 'mean' (divided by the summed weights of the targets not ignored, PyTorch's rule).
A ``*_backward`` returns dLoss/dinput for an incoming gradient ``grad_out`` of the reduced loss (1 if None).
"""

import numpy as np

from .dispatch import kernels
from .reference.loss import class_coefficients, from_rows, reduce_loss, reduction_scale, to_rows


def _class_rows(name, x, target, weight, ignore_index, label_smoothing, reduction):
    target = np.asarray(target)
    rows = x.reshape(1, -1) if x.ndim == 1 else to_rows(x)
    weight = None if weight is None else np.asarray(weight, x.dtype)
    q, denominator = class_coefficients(target.reshape(-1), rows.shape[1], weight, ignore_index, label_smoothing,
                                        x.dtype)
    _, ctx = getattr(kernels(), name + "_forward")(rows, q)
    return rows, q, denominator, ctx, target.shape


def _from_rows(grad_rows, shape):
    return grad_rows.reshape(shape) if len(shape) == 1 else from_rows(grad_rows, shape)


def _row_scale(grad_out, denominator, reduction, dtype):
    scale = reduction_scale(1.0 if grad_out is None else grad_out, denominator, reduction, dtype)
    return scale.reshape(-1, 1) if scale.ndim else scale


def cross_entropy(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """loss_i = -sum_c q_ic log softmax(x_i)_c, q the (smoothed, weighted) one-hot target."""
    rows, q, denominator, _, shape = _class_rows("cross_entropy", x, target, weight, ignore_index,
                                                 label_smoothing, reduction)
    losses, _ = kernels().cross_entropy_forward(rows, q, False)
    return reduce_loss(losses.reshape(shape), denominator, reduction)


def cross_entropy_backward(grad_out, x, target, weight=None, ignore_index=-100, reduction="mean",
                           label_smoothing=0.0):
    """dLoss/dx_i = s_i (softmax(x_i) sum_c q_ic - q_i), s_i the reduction's scale."""
    _, _, denominator, ctx, _ = _class_rows("cross_entropy", x, target, weight, ignore_index, label_smoothing,
                                            reduction)
    return _from_rows(ctx.backward(_row_scale(grad_out, denominator, reduction, x.dtype)), x.shape)


def nll_loss(x, target, weight=None, ignore_index=-100, reduction="mean"):
    """loss_i = -w[y_i] x[i, y_i], x holding log-probabilities."""
    rows, q, denominator, _, shape = _class_rows("nll", x, target, weight, ignore_index, 0.0, reduction)
    losses, _ = kernels().nll_forward(rows, q, False)
    return reduce_loss(losses.reshape(shape), denominator, reduction)


def nll_loss_backward(grad_out, x, target, weight=None, ignore_index=-100, reduction="mean"):
    """dLoss/dx[i, y_i] = -s_i w[y_i], zero elsewhere."""
    _, _, denominator, ctx, _ = _class_rows("nll", x, target, weight, ignore_index, 0.0, reduction)
    return _from_rows(ctx.backward(_row_scale(grad_out, denominator, reduction, x.dtype)), x.shape)


def mse_loss(x, target, reduction="mean"):
    """loss = mean((x - target)^2) (or sum, or none)."""
    losses, _ = kernels().mse_forward(x, np.asarray(target, x.dtype), False)
    return reduce_loss(losses, x.size, reduction)


def mse_loss_backward(grad_out, x, target, reduction="mean"):
    """dLoss/dx = 2 (x - target) * the reduction's scale."""
    _, ctx = kernels().mse_forward(x, np.asarray(target, x.dtype))
    return ctx.backward(reduction_scale(1.0 if grad_out is None else grad_out, x.size, reduction, x.dtype))
