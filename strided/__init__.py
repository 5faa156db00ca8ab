"""strided: a convolutional neural network library written from scratch on NumPy.

Every layer's forward and backward pass is readable NumPy, and its results equal PyTorch's.
"""

from . import amp, data, functional, io, models, nn, onnx, optim, train, viz
from .functional.shapes import conv_output_size, param_count, pool_output_size
from .grad_mode import enable_grad, is_grad_enabled, no_grad
from .io import load, save
from .rng import get_generator, get_rng_state, manual_seed, set_rng_state
from .summary import summary

__version__ = "0.1.0"

__all__ = [
    "get_num_threads", "set_num_threads",  # issue 18: threads for data movement
    "amp", "conv_output_size", "data", "enable_grad", "functional", "get_generator", "get_rng_state", "io",
    "is_grad_enabled", "load", "manual_seed", "models", "nn", "no_grad", "onnx", "optim", "param_count",
    "pool_output_size", "save", "set_rng_state", "summary", "train", "viz",
]
from . import distributed as distributed  # noqa: E402  (scale-out over MPI, issue 14)
from .functional.fast.threads import get_num_threads, set_num_threads  # noqa: E402  (issue 18)
