"""Per-sample normalisation: layer norm and group norm (torch.nn.functional.layer_norm / group_norm), the
reference kernels (there is no faster path: strided.functional.fast uses them as they are).

Unlike batch norm, the statistics come from each sample alone, so training and evaluation compute the
same thing and there are no running statistics. Both reduce to one kernel on rows: reshape x so that
each row holds the values normalised together, then

    x_hat = (x - mean(x)) / sqrt(var(x) + eps)          per row, biased variance
    dx    = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))   per row, g_hat = dL/dx_hat

(the two means in dx are the gradients through the row's mean and variance). Layer norm's rows are
the trailing ``normalized_shape`` of each sample and its affine weight is elementwise over them;
group norm's rows are the channels of one group of one sample, its weight is per channel.
"""

import math

import numpy as np

from ..dispatch import Context

__all__ = ["group_norm_backward", "group_norm_forward", "layer_norm_backward", "layer_norm_forward"]


def normalize_rows(rows: np.ndarray, eps: float):
    """(x_hat, inv_std) for a 2-D array, each row normalised to mean 0 and (biased) variance 1."""
    mean = rows.mean(axis=1, keepdims=True)
    centred = rows - mean
    var = np.mean(centred * centred, axis=1, keepdims=True)  # two passes: no cancellation
    inv_std = 1.0 / np.sqrt(var + eps)
    centred *= inv_std
    return centred, inv_std


def normalize_rows_backward(g_hat: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray) -> np.ndarray:
    """dL/dx of each row from dL/dx_hat: inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))."""
    mean_g = g_hat.mean(axis=1, keepdims=True)
    mean_gx = np.mean(g_hat * x_hat, axis=1, keepdims=True)  # np.mean sums pairwise: float32 rows stay exact
    grad = x_hat * mean_gx  # then in place: one array instead of four temporaries
    np.subtract(g_hat, grad, out=grad)
    grad -= mean_g
    grad *= inv_std
    return grad


# ----------------------------------------------------------------- layer norm
def layer_norm_forward(x: np.ndarray, normalized_shape: tuple, weight=None, bias=None, eps: float = 1e-5,
                       need_backward: bool = True):
    """``(y, ctx)``: y = x_hat * weight + bias, x_hat normalised over the trailing ``normalized_shape``."""
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape or x.ndim < len(normalized_shape):
        raise ValueError(f"layer_norm: expected input of shape (*, {', '.join(map(str, normalized_shape))}), "
                         f"got {x.shape}")
    features = math.prod(normalized_shape)
    x_hat, inv_std = normalize_rows(x.reshape(-1, features), eps)   # x_hat = (x - mean) / sqrt(var + eps)
    y = x_hat if weight is None else x_hat * weight.reshape(-1)      # * weight
    if bias is not None:
        y = y + bias.reshape(-1)                                     # + bias
    if not need_backward:
        return y.reshape(x.shape), None
    return y.reshape(x.shape), Context(layer_norm_backward, x_hat=x_hat, inv_std=inv_std, shape=x.shape,
                                       weight=weight, has_bias=bias is not None)


def layer_norm_backward(ctx, grad_out: np.ndarray):
    """``(dx, dweight, dbias)``: dweight = sum over rows of g * x_hat, dbias = sum of g, dx through the row stats
    (None for a parameter the forward did not have)."""
    x_hat, weight = ctx.x_hat, ctx.weight
    g = grad_out.reshape(x_hat.shape)
    grad_w = None if weight is None else (g * x_hat).sum(axis=0).reshape(weight.shape)
    grad_b = g.sum(axis=0).reshape(weight.shape if weight is not None else -1) if ctx.has_bias else None
    g_hat = g if weight is None else g * weight.reshape(-1)          # dL/dx_hat
    return normalize_rows_backward(g_hat, x_hat, ctx.inv_std).reshape(ctx.shape), grad_w, grad_b


# ----------------------------------------------------------------- group norm
def group_norm_forward(x: np.ndarray, num_groups: int, weight=None, bias=None, eps: float = 1e-5,
                       need_backward: bool = True):
    """``(y, ctx)``: each sample's channels split into ``num_groups`` groups, each group normalised over its
    channels and every position, then y = x_hat * weight[c] + bias[c]."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected input of shape (N, C, *) with C divisible by {num_groups} groups, "
                         f"got {x.shape}")
    n, c = x.shape[:2]
    x_hat, inv_std = normalize_rows(x.reshape(n * num_groups, -1), eps)   # one row per (sample, group)
    per_channel = x_hat.reshape(n, c, -1)
    y = per_channel if weight is None else per_channel * weight[:, None]   # * weight[c]
    if bias is not None:
        y = y + bias[:, None]                                                # + bias[c]
    if not need_backward:
        return y.reshape(x.shape), None
    return y.reshape(x.shape), Context(group_norm_backward, x_hat=x_hat, inv_std=inv_std, shape=x.shape,
                                       weight=weight, has_bias=bias is not None)


def group_norm_backward(ctx, grad_out: np.ndarray):
    """``(dx, dweight, dbias)``: dweight[c] = sum of g * x_hat over samples and positions, dbias[c] = sum of g
    (None for a parameter the forward did not have)."""
    x_hat, weight, (n, c) = ctx.x_hat, ctx.weight, ctx.shape[:2]
    g = grad_out.reshape(n, c, -1)
    grad_w = None if weight is None else np.einsum("ncl,ncl->c", g, x_hat.reshape(n, c, -1))
    grad_b = g.sum(axis=(0, 2)) if ctx.has_bias else None
    g_hat = g if weight is None else g * weight[:, None]                    # dL/dx_hat
    return normalize_rows_backward(g_hat.reshape(x_hat.shape), x_hat, ctx.inv_std).reshape(ctx.shape), grad_w, grad_b
