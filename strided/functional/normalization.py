"""Per-sample normalisation: layer norm and group norm (torch.nn.functional.layer_norm / group_norm).

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

__all__ = ["group_norm", "group_norm_backward", "group_norm_forward", "layer_norm", "layer_norm_backward",
           "layer_norm_forward"]


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
    mean_gx = np.mean(g_hat * x_hat, axis=1, keepdims=True)
    return inv_std * (g_hat - mean_g - x_hat * mean_gx)


# ----------------------------------------------------------------- layer norm
def layer_norm_forward(x: np.ndarray, normalized_shape: tuple, weight=None, bias=None, eps: float = 1e-5):
    """``(y, ctx)``: y = x_hat * weight + bias, x_hat normalised over the trailing ``normalized_shape``."""
    normalized_shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape or x.ndim < len(normalized_shape):
        raise ValueError(f"layer_norm: expected input of shape (*, {', '.join(map(str, normalized_shape))}), "
                         f"got {x.shape}")
    features = math.prod(normalized_shape)
    x_hat, inv_std = normalize_rows(x.reshape(-1, features), eps)
    y = x_hat if weight is None else x_hat * weight.reshape(-1)
    if bias is not None:
        y = y + bias.reshape(-1)
    return y.reshape(x.shape), (x_hat, inv_std, x.shape)


def layer_norm_backward(grad_out: np.ndarray, ctx, weight=None, need_bias: bool = True):
    """``(dx, dweight, dbias)``: dweight = sum over rows of g * x_hat, dbias = sum of g, dx through the row stats."""
    x_hat, inv_std, shape = ctx
    g = grad_out.reshape(x_hat.shape)
    grad_w = None if weight is None else (g * x_hat).sum(axis=0).reshape(weight.shape)
    grad_b = g.sum(axis=0).reshape(weight.shape if weight is not None else -1) if need_bias else None
    g_hat = g if weight is None else g * weight.reshape(-1)
    return normalize_rows_backward(g_hat, x_hat, inv_std).reshape(shape), grad_w, grad_b


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.layer_norm: normalise over the last ``len(normalized_shape)`` dimensions."""
    if isinstance(normalized_shape, (int, np.integer)):
        normalized_shape = (int(normalized_shape),)
    return layer_norm_forward(x, normalized_shape, weight, bias, eps)[0]


# ----------------------------------------------------------------- group norm
def group_norm_forward(x: np.ndarray, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """``(y, ctx)``: each sample's channels split into ``num_groups`` groups, each group normalised over its
    channels and every position, then y = x_hat * weight[c] + bias[c]."""
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: expected input of shape (N, C, *) with C divisible by {num_groups} groups, "
                         f"got {x.shape}")
    n, c = x.shape[:2]
    x_hat, inv_std = normalize_rows(x.reshape(n * num_groups, -1), eps)
    per_channel = x_hat.reshape(n, c, -1)
    y = per_channel if weight is None else per_channel * weight[:, None]
    if bias is not None:
        y = y + bias[:, None]
    return y.reshape(x.shape), (x_hat, inv_std, x.shape)


def group_norm_backward(grad_out: np.ndarray, ctx, weight=None, need_bias: bool = True):
    """``(dx, dweight, dbias)``: dweight[c] = sum of g * x_hat over samples and positions, dbias[c] = sum of g."""
    x_hat, inv_std, shape = ctx
    n, c = shape[:2]
    g = grad_out.reshape(n, c, -1)
    grad_w = None if weight is None else np.einsum("ncl,ncl->c", g, x_hat.reshape(n, c, -1))
    grad_b = g.sum(axis=(0, 2)) if need_bias else None
    g_hat = g if weight is None else g * weight[:, None]
    return normalize_rows_backward(g_hat.reshape(x_hat.shape), x_hat, inv_std).reshape(shape), grad_w, grad_b


def group_norm(x, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> np.ndarray:
    """torch.nn.functional.group_norm on (N, C, *) input."""
    return group_norm_forward(x, num_groups, weight, bias, eps)[0]
