"""Pure array math: arrays in, arrays out, no state. The layers in strided.nn wrap these kernels."""
from .conv_transpose import conv_transpose2d  # noqa: F401  (torch.nn.functional.conv_transpose2d)
from .interpolate import interpolate, interpolate_backward, interpolate_forward  # noqa: F401  (torch.nn.functional.interpolate)
from .normalization import group_norm, layer_norm  # noqa: F401  (torch.nn.functional's)
