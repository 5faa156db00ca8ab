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
from .activation import ReLU
from .checks import check_array, check_grad
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "runs_with_relu"]


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
    def _kernel_arguments(self, x) -> tuple:
        """Check x, count the batch, and return the kernel's arguments after x (running statistics, weight,
        bias, whether to use the batch's statistics, momentum, eps)."""
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
        return (*running, weight, bias, batch_stats, momentum, self.eps)

    def forward(self, x):
        y, ctx = kernels().batch_norm_forward(x, *self._kernel_arguments(x), is_grad_enabled())
        self.save_for_backward(ctx, x.shape, False)
        return y

    def forward_relu(self, x, residual=None):
        """relu(self(x) + residual) as one kernel (functional/fast/norm_act.py): what Sequential and the ResNet
        blocks run for a batch norm followed by a ReLU (see ``runs_with_relu``). Backward: ``backward_relu``."""
        arguments = self._kernel_arguments(x)
        if residual is not None and residual.shape != x.shape:
            raise ValueError(f"{self.label()}: the residual added to the output has shape {residual.shape}, "
                             f"expected the input's {x.shape}")
        y, ctx = kernels().batch_norm_relu_forward(x, *arguments, residual, is_grad_enabled())
        self.save_for_backward(ctx, x.shape, True)
        return y

    def backward(self, grad_out):
        dx, _ = self._backward(grad_out, False)
        return dx

    def backward_relu(self, grad_out):
        """(dL/dx, dL/dresidual or None) after ``forward_relu``; the parameter gradients accumulate as in backward."""
        return self._backward(grad_out, True)

    def _backward(self, grad_out, with_relu: bool):
        ctx, shape, fused = self.saved_for_backward()
        if fused != with_relu:
            raise RuntimeError(f"{self.label()}: backward{'_relu' if fused else ''}() must follow "
                               f"forward{'_relu' if fused else ''}()")
        check_grad(self, grad_out, shape)
        dx, dweight, dbias, *grad_residual = ctx.backward(grad_out)
        if self.affine:
            self.weight.accumulate_grad(dweight)
        if self.bias is not None:
            self.bias.accumulate_grad(dbias)
        return dx, (grad_residual[0] if grad_residual else None)

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


def runs_with_relu(bn, relu) -> bool:
    """Whether ``bn`` followed by ``relu`` can run as one kernel (``bn.forward_relu``): a plain batch norm and a
    plain ReLU without hooks (the fused kernel calls neither module, so their hooks would not run).

    Measured on 2 cores (CPU time, BLAS at 1 thread, load 12): forward + backward of batch norm and ReLU at
    fmnist-cnn's (128, 32, 28, 28) 20 ms fused against 28 ms, (128, 64, 14, 14) 11 against 17 ms; with the
    residual add at resnet-cifar's (32, 32, 16, 16) 4.6 against 5.7 ms."""
    return (type(bn) in (BatchNorm1d, BatchNorm2d) and type(relu) is ReLU and not relu._in_place
            and not bn.has_hooks() and not relu.has_hooks())
