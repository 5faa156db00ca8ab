"""Pure array math: arrays in, arrays out, with torch.nn.functional's names, and a backward for each op.

    y = st.functional.conv2d(x, weight, bias, stride=1, padding=1)
    dx, dweight, dbias = st.functional.conv2d_backward(grad_y, x, weight, stride=1, padding=1)

Every op has two implementations with the same numbers: ``reference/`` (the textbook algorithm, one short
file per family, the formula beside each line) and ``fast/`` (what runs by default). ``use_reference(True)``
or the environment variable STRIDED_REFERENCE=1 runs everything, layers included, on the references.
The layers of strided.nn call the kernels directly (``kernels().conv2d_forward`` returns ``(y, ctx)``,
``ctx.backward(grad)`` the gradients) and keep the context between forward and backward.
"""

from . import shapes  # noqa: F401  (st.functional.shapes: output-size formulas)
from .activation import (
    elu,
    elu_backward,
    gelu,
    gelu_backward,
    leaky_relu,
    leaky_relu_backward,
    log_softmax,
    log_softmax_backward,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    softmax_backward,
    tanh,
    tanh_backward,
)
from .conv import conv2d, conv2d_backward, pad, pad_backward
from .conv_transpose import conv_transpose2d, conv_transpose2d_backward
from .dispatch import kernels, use_reference, using_reference
from .interpolate import interpolate, interpolate_backward
from .linear import dropout, linear, linear_backward
from .loss import (
    cross_entropy,
    cross_entropy_backward,
    mse_loss,
    mse_loss_backward,
    nll_loss,
    nll_loss_backward,
)
from .norm import batch_norm, batch_norm_backward
from .normalization import group_norm, group_norm_backward, layer_norm, layer_norm_backward
from .pool import (
    adaptive_avg_pool2d,
    adaptive_avg_pool2d_backward,
    adaptive_max_pool2d,
    adaptive_max_pool2d_backward,
    avg_pool2d,
    avg_pool2d_backward,
    fractional_max_pool2d,
    fractional_max_pool2d_backward,
    max_pool2d,
    max_pool2d_backward,
)

__all__ = [
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward", "adaptive_max_pool2d", "adaptive_max_pool2d_backward",
    "avg_pool2d", "avg_pool2d_backward", "batch_norm", "batch_norm_backward", "conv2d", "conv2d_backward",
    "conv_transpose2d", "conv_transpose2d_backward", "cross_entropy", "cross_entropy_backward", "dropout", "elu",
    "elu_backward", "fractional_max_pool2d", "fractional_max_pool2d_backward", "gelu", "gelu_backward", "group_norm",
    "group_norm_backward", "interpolate", "interpolate_backward", "kernels", "layer_norm", "layer_norm_backward",
    "leaky_relu", "leaky_relu_backward", "linear", "linear_backward", "log_softmax", "log_softmax_backward",
    "max_pool2d", "max_pool2d_backward", "mse_loss", "mse_loss_backward", "nll_loss", "nll_loss_backward", "pad",
    "pad_backward", "relu", "relu_backward", "sigmoid", "sigmoid_backward", "softmax", "softmax_backward", "tanh",
    "tanh_backward", "use_reference", "using_reference",
]
