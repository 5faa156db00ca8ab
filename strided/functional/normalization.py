"""torch.nn.functional.layer_norm and group_norm, with their backward; the kernels are
strided.functional.reference.normalization (``layer_norm_forward`` / ``group_norm_forward``, which the fast
package uses as they are). A backward here recomputes the forward's context from its arguments."""

from .args import is_int, positive_int
from .dispatch import kernels

__all__ = ["group_norm", "group_norm_backward", "layer_norm", "layer_norm_backward"]


def _shape(normalized_shape) -> tuple:
    shape = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
    return tuple(positive_int(s, "normalized_shape", "layer_norm") for s in shape)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """torch.nn.functional.layer_norm: y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics over
    the last ``len(normalized_shape)`` dimensions of each sample."""
    return kernels().layer_norm_forward(x, _shape(normalized_shape), weight, bias, eps, need_backward=False)[0]


def layer_norm_backward(grad_out, x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """(dL/dx, dL/dweight, dL/dbias) of layer_norm (None for a parameter not given): dweight = sum of g * x_hat,
    dbias = sum of g over the rows, dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat))."""
    _, ctx = kernels().layer_norm_forward(x, _shape(normalized_shape), weight, bias, eps)
    return ctx.backward(grad_out)


def group_norm(x, num_groups, weight=None, bias=None, eps: float = 1e-5):
    """torch.nn.functional.group_norm on (N, C, *): each sample's channels in ``num_groups`` groups, each group
    normalised over its channels and positions, then y = x_hat * weight[c] + bias[c]."""
    num_groups = positive_int(num_groups, "num_groups", "group_norm")
    return kernels().group_norm_forward(x, num_groups, weight, bias, eps, need_backward=False)[0]


def group_norm_backward(grad_out, x, num_groups, weight=None, bias=None, eps: float = 1e-5):
    """(dL/dx, dL/dweight, dL/dbias) of group_norm (None for a parameter not given)."""
    _, ctx = kernels().group_norm_forward(x, positive_int(num_groups, "num_groups", "group_norm"), weight, bias, eps)
    return ctx.backward(grad_out)
