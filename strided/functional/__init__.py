"""Pure array math: arrays in, arrays out, no state. The layers in strided.nn wrap these kernels."""
from .interpolate import interpolate, interpolate_backward, interpolate_forward  # noqa: F401  (torch.nn.functional.interpolate)
