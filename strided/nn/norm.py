"""Batch normalisation layers (Ioffe and Szegedy, 2015), with PyTorch's semantics and state dict.

Training: normalise with the batch's per-channel mean and biased variance, and update the running
statistics with ``running = (1 - momentum) * running + momentum * batch`` using the UNBIASED
variance (n / (n - 1) times the biased one); ``momentum=None`` gives the cumulative average
(factor 1 / num_batches_tracked). Evaluation: normalise with the running statistics (or, with
``track_running_stats=False``, with the batch's). Buffers: ``running_mean``, ``running_var`` and
``num_batches_tracked`` (a 0-d int64 array), exactly PyTorch's. ``bias=False`` (keyword only, as in
PyTorch 2.13) keeps the affine weight but drops the shift. The math is in
strided/functional/reference/norm.py (``batch_norm_forward``/``batch_norm_backward``; fast: functional/fast/norm.py).
"""

import numpy as np

from ..functional.args import positive_int
from ..functional.dispatch import kernels
from ..grad_mode import is_grad_enabled
from .checks import check_array, check_grad
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d"]


class _BatchNorm(Module):
    _layouts: dict = {}  # accepted rank -> how to describe it in errors

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None, *, bias: bool = True):
        super().__init__()
        positive_int(num_features, "num_features", type(self).__name__)
        dtype = np.float32 if dtype is None else dtype
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine and bias else None
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    # ----------------------------------------------------------------- checks
    def _check(self, x) -> None:
        check_array(self, x)
        if x.ndim not in self._layouts or x.shape[1] != self.num_features:
            expected = " or ".join(layout.format(c=self.num_features) for layout in self._layouts.values())
            raise ValueError(f"{self.label()}: expected input of shape {expected}, got {x.shape}")
        reference = self.weight.data if self.affine else self.running_mean
        if reference is not None and x.dtype != reference.dtype:
            raise ValueError(
                f"{self.label()}: input dtype {x.dtype} does not match the layer's {reference.dtype}; "
                f"convert the input (x.astype(np.{reference.dtype})) or the model (model.to(np.{x.dtype}))"
            )

    # ----------------------------------------------------------------- forward and backward
    def forward(self, x):
        self._check(x)
        weight = self.weight.data if self.affine else None
        bias = None if self.bias is None else self.bias.data
        batch_stats = self.training or self.running_mean is None
        if batch_stats and x.size // max(x.shape[1], 1) == 1:
            raise ValueError(f"{self.label()}: expected more than 1 value per channel when training, "
                             f"got input of shape {x.shape}")
        track = self.training and self.track_running_stats
        momentum = 0.0
        if track:
            self.num_batches_tracked += 1  # PyTorch counts empty batches too
            momentum = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        # The running statistics are updated in place by the kernel, as PyTorch: arrays handed out by
        # state_dict() see the update.
        running = (self.running_mean, self.running_var) if track or not batch_stats else (None, None)
        y, ctx = kernels().batch_norm_forward(x, *running, weight, bias, batch_stats, momentum, self.eps,
                                              is_grad_enabled())
        self.save_for_backward(ctx, x.shape)
        return y

    def backward(self, grad_out):
        ctx, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        dx, dweight, dbias = ctx.backward(grad_out)
        if self.affine:
            self.weight.accumulate_grad(dweight)
        if self.bias is not None:
            self.bias.accumulate_grad(dbias)
        return dx

    # ----------------------------------------------------------------- description
    def label(self):
        return f"{type(self).__name__}({self.num_features})"

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C (statistics over N and L).

    y = (x - mean) / sqrt(var + eps) * weight + bias, output shape = input shape.
    Backward, training: dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) with
    g_hat = grad * weight (the batch statistics depend on x); evaluation: dx = grad * weight * inv_std.
    Both modes: dweight = sum(grad * x_hat), dbias = sum(grad).
    """

    _layouts = {2: "(N, {c})", 3: "(N, {c}, L)"}


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of NCHW input, per channel C (statistics over N, H and W).

    y = (x - mean) / sqrt(var + eps) * weight + bias, output shape = input shape.
    Backward, training: dx = inv_std * (g_hat - mean(g_hat) - x_hat * mean(g_hat * x_hat)) with
    g_hat = grad * weight (the batch statistics depend on x); evaluation: dx = grad * weight * inv_std.
    Both modes: dweight = sum(grad * x_hat), dbias = sum(grad).
    """

    _layouts = {4: "(N, {c}, H, W)"}
