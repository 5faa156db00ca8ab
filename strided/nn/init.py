"""Weight initialisation, with torch.nn.init's names and formulas.

Each function fills a Parameter (or array) in place, draws from strided's seeded generator
(``st.manual_seed``), keeps the array's dtype, and returns what it was given.

Fans, for a weight of shape (C_out, C_in, K_h, K_w) or (out_features, in_features):
``fan_in = C_in * K_h * K_w`` and ``fan_out = C_out * K_h * K_w``.
"""

import contextlib
import functools
import math
import threading

import numpy as np

from ..rng import get_generator

_skipping = threading.local()


@contextlib.contextmanager
def skip_init():
    """Inside this block every fill below leaves its tensor untouched (in this thread only).

    strided.io rebuilds a model from a file this way: the new layers keep the zeros of ``np.zeros``,
    which the OS maps lazily, until the file's own tensors have been checked against the layers' shapes
    and loaded, so a file that claims a huge layer costs no memory first (``Linear(8000, 8000)``: 977 MiB
    of float64 draws otherwise). PyTorch's counterpart is ``torch.nn.utils.skip_init``.
    """
    _skipping.depth = getattr(_skipping, "depth", 0) + 1
    try:
        yield
    finally:
        _skipping.depth -= 1


def _skippable(fill):
    """``fill``, unless inside ``skip_init()``."""
    @functools.wraps(fill)
    def fill_unless_skipped(tensor, *args, **kwargs):
        if getattr(_skipping, "depth", 0):
            return tensor
        return fill(tensor, *args, **kwargs)

    return fill_unless_skipped


def _array(tensor) -> np.ndarray:
    return tensor.data if hasattr(tensor, "data") and not isinstance(tensor, np.ndarray) else tensor


def calculate_fan_in_and_fan_out(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape; needs at least 2 dimensions, as in PyTorch."""
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need a weight of 2 or more dimensions, got shape {tuple(shape)}")
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through a nonlinearity (PyTorch's table)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid", "identity"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}")


def _fill(tensor, values: np.ndarray):
    array = _array(tensor)
    array[...] = values.astype(array.dtype, copy=False)
    return tensor


@_skippable
def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    """Fill with U(a, b)."""
    return _fill(tensor, get_generator().uniform(a, b, size=_array(tensor).shape))


@_skippable
def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    """Fill with N(mean, std^2)."""
    return _fill(tensor, get_generator().normal(mean, std, size=_array(tensor).shape))


@_skippable
def constant_(tensor, value: float):
    _array(tensor)[...] = value
    return tensor


@_skippable
def zeros_(tensor):
    return constant_(tensor, 0.0)


@_skippable
def ones_(tensor):
    return constant_(tensor, 1.0)


@_skippable
def xavier_uniform_(tensor, gain: float = 1.0):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


@_skippable
def xavier_normal_(tensor, gain: float = 1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor).shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def _kaiming_std(shape, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


@_skippable
def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan) (He et al., 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(_array(tensor).shape, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


@_skippable
def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(_array(tensor).shape, a, mode, nonlinearity))


@_skippable
def default_layer_init_(weight, bias=None):
    """PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)), i.e. U(+-1/sqrt(fan_in)),
    and the bias from U(+-1/sqrt(fan_in)) too."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = calculate_fan_in_and_fan_out(_array(weight).shape)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
    return weight


__all__ = [
    "calculate_fan_in_and_fan_out", "calculate_gain", "constant_", "default_layer_init_", "kaiming_normal_",
    "kaiming_uniform_", "normal_", "ones_", "skip_init", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]
