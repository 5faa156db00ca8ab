"""Upsample: resampling as a layer (torch.nn.Upsample), over strided.functional.interpolate.

The layer a feature pyramid or a U-Net decoder uses to bring a coarse map up to a finer one's size.
"""

from ..functional.dispatch import kernels
from ..functional.interpolate import MODES, interpolate_args
from .checks import check_array
from .module import Module

__all__ = ["Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d"]


class Upsample(Module):
    """Resample (N, C, L) or (N, C, H, W) input to ``size`` or by ``scale_factor`` (exactly one of them).

    Forward, per image and channel: y = A_h @ x @ A_w^T, where row i of each axis's matrix A holds
    the weights output pixel i takes from the input: one 1 for 'nearest' / 'nearest-exact', two
    weights (1 - l, l) for 'linear' (3-D) / 'bilinear' (4-D), PyTorch's source coordinates
    (``align_corners`` as torch.nn.functional.interpolate). No parameters.
    Backward: dx = A_h^T @ g @ A_w, every input pixel collecting the gradient of the outputs it fed.
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError("Upsample: give exactly one of size and scale_factor")
        if mode not in MODES:
            raise ValueError(f"Upsample: mode must be one of {tuple(MODES)}, got {mode!r}")
        self.size = tuple(size) if isinstance(size, list) else size
        self.scale_factor = tuple(float(s) for s in scale_factor) if isinstance(scale_factor, (tuple, list)) \
            else (None if scale_factor is None else float(scale_factor))
        self.mode, self.align_corners, self.recompute_scale_factor = mode, align_corners, recompute_scale_factor

    def forward(self, x):
        check_array(self, x)
        try:
            args = interpolate_args(x, self.size, self.scale_factor, self.mode, self.align_corners,
                                    self.recompute_scale_factor)
        except (TypeError, ValueError) as error:
            raise type(error)(f"{self.label()}: {str(error).removeprefix('interpolate: ')}, "
                              f"got input of shape {x.shape}") from None
        y, ctx = kernels().interpolate_forward(x, *args)
        self.save_for_backward(ctx)
        return y

    def backward(self, grad_out):
        (ctx,) = self.saved_for_backward()
        try:
            return ctx.backward(grad_out)
        except ValueError as error:
            raise ValueError(f"{self.label()}: {str(error).removeprefix('interpolate: ')}") from None

    def label(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor}" if self.size is None else f"size={self.size}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` (PyTorch's older name)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` (PyTorch's older name)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
