"""LayerNorm and GroupNorm: normalisation per sample (no batch statistics, the same in training and
evaluation), with PyTorch's signatures, defaults and state dict (``weight``, ``bias``)."""

import numpy as np

from ..functional.args import is_int, positive_int
from ..functional.dispatch import kernels
from .checks import check_array, check_dtype_matches, check_grad
from .module import Module, Parameter

__all__ = ["GroupNorm", "LayerNorm", "LayerNorm2d"]


class _PerSampleNorm(Module):
    """What LayerNorm and GroupNorm share: the kernel's context kept by forward computes the gradients;
    those of the affine weight and bias (when present) are added into their Parameters."""

    def backward(self, grad_out):
        ctx, x_shape = self.saved_for_backward()
        check_grad(self, grad_out, x_shape)
        grad_x, grad_w, grad_b = ctx.backward(grad_out)
        if self.weight is not None:
            self.weight.accumulate_grad(grad_w)
        if self.bias is not None:
            self.bias.accumulate_grad(grad_b)
        return grad_x


class LayerNorm(_PerSampleNorm):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, the statistics over the trailing ``normalized_shape``
    of each sample (biased variance), ``weight`` and ``bias`` of shape ``normalized_shape``, elementwise.

    Input (*, *normalized_shape): for a transformer's (N, L, D) tokens, ``LayerNorm(D)``. Channels-first
    images (N, C, H, W) normalised over C at each pixel (ConvNeXt's layer norm) need C last:
    ``LayerNorm2d(C)`` does ``x.transpose(0, 2, 3, 1)``, LayerNorm(C), and transposes back; note that
    ``LayerNorm((C, H, W))`` instead normalises each sample over all its values (and learns C*H*W weights).

    Backward, per normalised row with g_hat = g * weight: dx = inv_std * (g_hat - mean(g_hat) -
    x_hat * mean(g_hat * x_hat)); dweight = sum over rows of g * x_hat; dbias = sum over rows of g.
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if is_int(normalized_shape) else tuple(normalized_shape)
        self.normalized_shape = tuple(positive_int(s, "normalized_shape", type(self).__name__) for s in shape)
        if not self.normalized_shape:
            raise ValueError(f"{type(self).__name__}: normalized_shape must not be empty")
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) if elementwise_affine and bias else None

    def _check(self, x) -> None:
        check_array(self, x)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            trailing = ", ".join(map(str, self.normalized_shape))
            raise ValueError(f"{self.label()}: expected input of shape (*, {trailing}), got {x.shape}")
        if self.weight is not None:
            check_dtype_matches(self, x, self.weight)

    def forward(self, x):
        self._check(x)
        return self._normalize(x)

    def _normalize(self, x):
        weight = None if self.weight is None else self.weight.data
        bias = None if self.bias is None else self.bias.data
        y, ctx = kernels().layer_norm_forward(x, self.normalized_shape, weight, bias, self.eps)
        self.save_for_backward(ctx, x.shape)
        return y

    def label(self) -> str:
        return f"{type(self).__name__}({', '.join(map(str, self.normalized_shape))})"

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class LayerNorm2d(LayerNorm):
    """Layer norm over the channels of (N, C, H, W) input at each pixel (torchvision.models.convnext.LayerNorm2d):
    the input transposed to (N, H, W, C), LayerNorm(C), transposed back; the backward transposes likewise."""

    def _check(self, x) -> None:
        check_array(self, x)
        if x.ndim != 4 or (x.shape[1],) != self.normalized_shape:
            raise ValueError(f"{self.label()}: expected input of shape (N, {self.normalized_shape[0]}, H, W), "
                             f"got {x.shape}")
        LayerNorm._check(self, x.transpose(0, 2, 3, 1))

    def forward(self, x):
        self._check(x)
        self._input_shape = x.shape
        # contiguous NCHW out, as every other layer hands on (one copy; the kernels after it expect rows)
        return np.ascontiguousarray(self._normalize(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))

    def backward(self, grad_out):
        check_grad(self, grad_out, self._input_shape)
        return np.ascontiguousarray(super().backward(grad_out.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2))


class GroupNorm(_PerSampleNorm):
    """y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c], the statistics of each sample over the channels
    of its group (``num_channels / num_groups`` of them) and every position (Wu and He, 2018).

    Input (N, C, *). ``GroupNorm(1, C)`` normalises each sample over all its values, ``GroupNorm(C, C)`` each
    channel alone (instance norm). ``weight`` and ``bias`` have shape (C,).
    Backward, per (sample, group) row with g_hat = g * weight[c]: dx = inv_std * (g_hat - mean(g_hat) -
    x_hat * mean(g_hat * x_hat)); dweight[c] = sum of g * x_hat, dbias[c] = sum of g, over samples and positions.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, dtype=None):
        super().__init__()
        self.num_groups = positive_int(num_groups, "num_groups", "GroupNorm")
        self.num_channels = positive_int(num_channels, "num_channels", "GroupNorm")
        if self.num_channels % self.num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups ({num_groups})")
        self.eps, self.affine = float(eps), bool(affine)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.ones(self.num_channels, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype)) if affine else None

    def forward(self, x):
        check_array(self, x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self.label()}: expected input of shape (N, {self.num_channels}, *), got {x.shape}")
        if self.affine:
            check_dtype_matches(self, x, self.weight)
        weight, bias = (self.weight.data, self.bias.data) if self.affine else (None, None)
        y, ctx = kernels().group_norm_forward(x, self.num_groups, weight, bias, self.eps)
        self.save_for_backward(ctx, x.shape)
        return y

    def label(self) -> str:
        return f"GroupNorm({self.num_groups}, {self.num_channels})"

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
