"""Input checks shared by the layers, so that every bad input gets the same kind of clear error.

Each error names the layer (``module.label()``), what it expected and what it got, e.g.
``Conv2d(3 -> 16): expected input of shape (N, 3, H, W), got (8, 1, 28, 28)``. Something that is not a
floating NumPy array raises ``ArgumentTypeError`` (a TypeError, and a ValueError as before); a wrong shape a
ValueError.
"""

import numpy as np

from ..functional.args import ArgumentTypeError


def check_array(module, x) -> None:
    """The input must be a floating NumPy array."""
    if not isinstance(x, np.ndarray):
        raise ArgumentTypeError(f"{module.label()}: expected a NumPy array, got {type(x).__name__}")
    if x.dtype.kind != "f":  # np.issubdtype(x.dtype, np.floating), 8 times cheaper: this runs once per layer call
        raise ArgumentTypeError(
            f"{module.label()}: expected a floating-point array (float32 or float64), got dtype {x.dtype}; "
            "convert images with x.astype(np.float32) / 255"
        )


def check_input(module, x, ndim: int, channels: int | None = None) -> None:
    """A floating array of rank ``ndim`` (4 means NCHW, 2 means (N, features)) with ``channels`` on axis 1."""
    check_array(module, x)
    if x.ndim != ndim or (channels is not None and x.shape[1] != channels):
        layout = {4: "(N, {c}, H, W)", 3: "(N, {c}, L)", 2: "(N, {c})"}.get(ndim, "rank {n}")
        expected = layout.format(c="C" if channels is None else channels, n=ndim)
        raise ValueError(f"{module.label()}: expected input of shape {expected}, got {x.shape}")


def check_dtype_matches(module, x, param) -> None:
    """Input and parameters must share a dtype: strided never silently up- or down-casts."""
    if x.dtype != param.data.dtype:
        raise ValueError(
            f"{module.label()}: input dtype {x.dtype} does not match the parameters' {param.data.dtype}; "
            f"convert the input (x.astype(np.{param.data.dtype})) or the model (model.to(np.{x.dtype}))"
        )


def check_grad(module, grad_out, expected_shape) -> None:
    """The gradient handed to backward must have the shape of the forward's output."""
    if not isinstance(grad_out, np.ndarray) or grad_out.shape != tuple(expected_shape):
        got = grad_out.shape if isinstance(grad_out, np.ndarray) else type(grad_out).__name__
        raise ValueError(f"{module.label()}: backward expected a gradient of shape {tuple(expected_shape)}, got {got}")
