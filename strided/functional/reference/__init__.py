"""The reference kernels: the textbook algorithm of every op, one short file per family, each formula beside
the line that computes it. The definition strided.functional.fast must equal (same names and signatures);
``strided.functional.use_reference(True)`` runs every layer on them."""

from .activation import (
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    log_softmax_backward,
    log_softmax_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)
from .adaptive_pool import (
    adaptive_avg_pool2d_backward,
    adaptive_avg_pool2d_forward,
    adaptive_max_pool2d_backward,
    adaptive_max_pool2d_forward,
    fractional_max_pool2d_backward,
    fractional_max_pool2d_forward,
)
from .conv import conv2d_backward, conv2d_forward
from .conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from .dropout import dropout_backward, dropout_forward
from .interpolate import interpolate_backward, interpolate_forward
from .linear import linear_backward, linear_forward
from .loss import bce_with_logits_forward, cross_entropy_forward, mse_forward, nll_forward
from .norm import batch_norm_backward, batch_norm_forward
from .normalization import group_norm_backward, group_norm_forward, layer_norm_backward, layer_norm_forward
from .pad import pad2d_backward, pad2d_forward
from .pool import avg_pool2d_backward, avg_pool2d_forward, max_pool2d_backward, max_pool2d_forward

__all__ = [
    "adaptive_avg_pool2d_backward", "adaptive_avg_pool2d_forward", "adaptive_max_pool2d_backward",
    "adaptive_max_pool2d_forward", "avg_pool2d_backward", "avg_pool2d_forward", "batch_norm_backward",
    "batch_norm_forward", "bce_with_logits_forward", "conv2d_backward", "conv2d_forward", "conv_transpose2d_backward",
    "conv_transpose2d_forward", "cross_entropy_forward", "dropout_backward", "dropout_forward", "elu_backward",
    "elu_forward", "fractional_max_pool2d_backward", "fractional_max_pool2d_forward", "gelu_backward", "gelu_forward",
    "group_norm_backward", "group_norm_forward", "interpolate_backward", "interpolate_forward", "layer_norm_backward",
    "layer_norm_forward", "leaky_relu_backward", "leaky_relu_forward", "linear_backward", "linear_forward",
    "log_softmax_backward", "log_softmax_forward", "max_pool2d_backward", "max_pool2d_forward", "mse_forward",
    "nll_forward", "pad2d_backward", "pad2d_forward", "relu_backward", "relu_forward", "sigmoid_backward",
    "sigmoid_forward", "softmax_backward", "softmax_forward", "tanh_backward", "tanh_forward",
]
