"""The course document's pooling and padding operations, as functions of an NCHW array.

Each method runs one strided layer forward, under ``st.no_grad()`` since nothing is trained here
(the layers themselves, st.nn.MaxPool2d, st.nn.ReflectionPad2d ..., have the backward passes).
"""

import math

from .. import nn
from ..grad_mode import no_grad

__all__ = ["AdvancedPooling", "PaddingOperations"]


def _run(layer, input_data):
    with no_grad():
        return layer(input_data)


class AdvancedPooling:
    """Max, average, global-average, adaptive (max) and fractional (max) pooling of (N, C, H, W) arrays."""

    def max_pooling(self, input_data, pool_size=2, stride=2):
        """Maximum of each pool_size x pool_size window; output (H - pool_size) // stride + 1 per side."""
        return _run(nn.MaxPool2d(pool_size, stride), input_data)

    def average_pooling(self, input_data, pool_size=2, stride=2):
        """Mean of each pool_size x pool_size window; output (H - pool_size) // stride + 1 per side."""
        return _run(nn.AvgPool2d(pool_size, stride), input_data)

    def global_average_pooling(self, input_data):
        """Mean over H and W of each channel: output (N, C, 1, 1)."""
        return _run(nn.GlobalAvgPool2d(), input_data)

    def adaptive_pooling(self, input_data, output_size):
        """Max pooling to a given (H_out, W_out), whatever the input size.

        Window i covers rows floor(i*H/H_out) to ceil((i+1)*H/H_out) (PyTorch's rule, so windows may
        overlap by a row); the document's sketch uses a fixed stride H // H_out instead.
        """
        return _run(nn.AdaptiveMaxPool2d(output_size), input_data)

    def fractional_pooling(self, input_data, pool_size=2.5):
        """Max pooling that shrinks each side by a non-integer factor: output int(H / pool_size) per side.

        Windows ceil(pool_size) wide start at pseudo-random offsets whose steps average pool_size
        (Graham, 2014; st.nn.FractionalMaxPool2d, drawn from strided's generator: st.manual_seed
        repeats them).
        """
        if not isinstance(pool_size, (int, float)) or isinstance(pool_size, bool) or pool_size <= 1:
            raise ValueError(f"AdvancedPooling.fractional_pooling: pool_size must be a number > 1, got {pool_size!r}")
        if getattr(input_data, "ndim", None) != 4:
            got = getattr(input_data, "shape", type(input_data).__name__)
            raise ValueError(f"AdvancedPooling.fractional_pooling: expected input of shape (N, C, H, W), got {got}")
        height, width = input_data.shape[2:]
        output_size = (int(height / pool_size), int(width / pool_size))
        if min(output_size) < 1:
            raise ValueError(f"AdvancedPooling.fractional_pooling: an input of {height}x{width} is too small for "
                             f"pool_size {pool_size} (output would be {output_size[0]}x{output_size[1]})")
        return _run(nn.FractionalMaxPool2d(math.ceil(pool_size), output_size=output_size), input_data)


def _strided_order(padding):
    """The document's (top, bottom, left, right) as strided's and PyTorch's (left, right, top, bottom)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return padding
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        top, bottom, left, right = padding
        return (left, right, top, bottom)
    raise ValueError(f"PaddingOperations: padding must be an int or (top, bottom, left, right), got {padding!r}")


class PaddingOperations:
    """Zero, reflect and replicate padding of (N, C, H, W) arrays.

    ``padding`` is an int (all four sides) or (top, bottom, left, right), the document's order; strided's
    layers take (left, right, top, bottom), like PyTorch, and the conversion happens here.
    """

    def zero_padding(self, input_data, padding):
        """Zeros around the image: out[i, j] = x[i - top, j - left] inside, 0 outside."""
        return _run(nn.ZeroPad2d(_strided_order(padding)), input_data)

    def reflect_padding(self, input_data, padding):
        """Mirror at the edge, the edge pixel itself not repeated: [a b c | b a] (each amount < the size)."""
        return _run(nn.ReflectionPad2d(_strided_order(padding)), input_data)

    def replicate_padding(self, input_data, padding):
        """Repeat the edge pixel: [a b c | c c]; corners take the corner pixel."""
        return _run(nn.ReplicationPad2d(_strided_order(padding)), input_data)
