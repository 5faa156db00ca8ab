"""Layers that ONNX models use and strided.nn does not have (yet): what an import builds them from.

Each is a small Module with its forward formula and its backward, so an imported model trains.
Constants read from the ONNX file (an added or multiplied tensor) are buffers: they are in the
state dict, so ``st.save`` stores them, but an optimizer does not change them. Model files find
these classes by name (strided.io.spec looks here after strided.nn).
"""

import numpy as np

from ..nn.checks import check_array, check_grad
from ..nn.module import Module

__all__ = ["AddConstant", "Clip", "HardSigmoid", "HardSwish", "Mul", "MulConstant", "Reshape", "Slice", "Transpose"]


class Clip(Module):
    """y = min(max(x, min), max) (ONNX Clip; ReLU6 is Clip(0, 6)); a bound of None is open.

    Backward: dx = grad where min < x < max, else 0 (PyTorch's hardtanh rule at the bounds).
    """

    def __init__(self, min=None, max=None):
        super().__init__()
        self.min = None if min is None else float(min)
        self.max = None if max is None else float(max)

    def forward(self, x):
        check_array(self, x)
        self.save_for_backward(x)
        return np.clip(x, self.min, self.max)

    def backward(self, grad_out):
        (x,) = self.saved_for_backward()
        check_grad(self, grad_out, x.shape)
        inside = np.ones(x.shape, dtype=bool)
        if self.min is not None:
            inside &= x > self.min
        if self.max is not None:
            inside &= x < self.max
        return grad_out * inside

    def label(self):
        return f"Clip({self.extra_repr()})"

    def extra_repr(self):
        return f"min={self.min}, max={self.max}"


class HardSigmoid(Module):
    """y = max(0, min(1, alpha * x + beta)) (ONNX HardSigmoid; PyTorch's Hardsigmoid is alpha = 1/6).

    Backward: dx = alpha * grad where 0 < alpha * x + beta < 1, else 0.
    """

    def __init__(self, alpha: float = 0.2, beta: float = 0.5):
        super().__init__()
        self.alpha, self.beta = float(alpha), float(beta)

    def forward(self, x):
        check_array(self, x)
        z = x * x.dtype.type(self.alpha) + x.dtype.type(self.beta)
        self.save_for_backward(z)
        return np.clip(z, 0, 1)

    def backward(self, grad_out):
        (z,) = self.saved_for_backward()
        check_grad(self, grad_out, z.shape)
        return grad_out * (((z > 0) & (z < 1)) * z.dtype.type(self.alpha))

    def label(self):
        return f"HardSigmoid({self.extra_repr()})"

    def extra_repr(self):
        return f"alpha={self.alpha}, beta={self.beta}"


class HardSwish(Module):
    """y = x * min(max(x + 3, 0), 6) / 6 (MobileNet-V3's activation; ONNX HardSwish, PyTorch Hardswish).

    Backward: dx = grad * (0 for x < -3, (2x + 3) / 6 for -3 <= x <= 3, 1 for x > 3), PyTorch's
    choice at the two kinks.
    """

    def forward(self, x):
        check_array(self, x)
        self.save_for_backward(x)
        return x * np.clip(x + 3, 0, 6) / 6

    def backward(self, grad_out):
        (x,) = self.saved_for_backward()
        check_grad(self, grad_out, x.shape)
        slope = np.where(x < -3, 0, np.where(x <= 3, (2 * x + 3) / 6, 1)).astype(x.dtype)
        return grad_out * slope


def _sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """The gradient of an input broadcast to grad.shape: sum over the axes broadcasting added or stretched."""
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape)))) if grad.ndim > len(shape) else grad
    stretched = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


class Mul(Module):
    """y = a * b, elementwise with NumPy broadcasting (squeeze-and-excitation gates: (N, C, H, W) * (N, C, 1, 1)).

    Backward: da = sum over broadcast axes of grad * b, db = sum over broadcast axes of grad * a.
    """

    def forward(self, a, b):
        check_array(self, a)
        check_array(self, b)
        y = a * b
        self.save_for_backward(a, b, y.shape)
        return y

    def backward(self, grad_out):
        a, b, shape = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return _sum_to_shape(grad_out * b, a.shape), _sum_to_shape(grad_out * a, b.shape)


class _Constant(Module):
    """A layer with one constant array ``value`` of the given shape (a buffer, loaded like any state)."""

    def __init__(self, shape=()):
        super().__init__()
        self.register_buffer("value", np.zeros(tuple(shape), dtype=np.float32))

    def extra_repr(self):
        return f"shape={tuple(np.shape(self.value))}"


class AddConstant(_Constant):
    """y = x + value (broadcast; a bias or a normalisation shift). Backward: dx = grad summed to x's shape."""

    def forward(self, x):
        check_array(self, x)
        y = x + self.value.astype(x.dtype, copy=False)
        self.save_for_backward(x.shape, y.shape)
        return y

    def backward(self, grad_out):
        shape, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        return _sum_to_shape(grad_out, shape)


class MulConstant(_Constant):
    """y = x * value (broadcast; a scale). Backward: dx = grad * value, summed to x's shape."""

    def forward(self, x):
        check_array(self, x)
        y = x * self.value.astype(x.dtype, copy=False)
        self.save_for_backward(x.shape, y.shape)
        return y

    def backward(self, grad_out):
        shape, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        return _sum_to_shape(grad_out * self.value.astype(grad_out.dtype, copy=False), shape)


class Reshape(Module):
    """y = x reshaped to ``shape``, ONNX's rule: 0 copies x's size on that axis (the batch), -1 is inferred.

    Backward: dx = grad reshaped to x's shape.
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)

    def forward(self, x):
        check_array(self, x)
        target = tuple(x.shape[i] if s == 0 else s for i, s in enumerate(self.shape))
        try:
            y = x.reshape(target)
        except ValueError:
            raise ValueError(f"{self.label()}: cannot reshape an input of shape {x.shape} to {self.shape}") from None
        self.save_for_backward(x.shape, y.shape)
        return y

    def backward(self, grad_out):
        shape, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        return grad_out.reshape(shape)

    def label(self):
        return f"Reshape{self.shape}"

    def extra_repr(self):
        return f"shape={self.shape}"


class Transpose(Module):
    """y = x with its axes permuted: y.shape[i] = x.shape[perm[i]]. Backward: the inverse permutation."""

    def __init__(self, perm):
        super().__init__()
        self.perm = tuple(int(p) for p in perm)

    def forward(self, x):
        check_array(self, x)
        if x.ndim != len(self.perm):
            raise ValueError(f"{self.label()}: expected an input of rank {len(self.perm)}, got shape {x.shape}")
        y = np.ascontiguousarray(x.transpose(self.perm))
        self.save_for_backward(y.shape)
        return y

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, shape)
        return np.ascontiguousarray(grad_out.transpose(np.argsort(self.perm)))

    def label(self):
        return f"Transpose{self.perm}"

    def extra_repr(self):
        return f"perm={self.perm}"


class Slice(Module):
    """y = x[..., start:end:step, ...] on the given axes (ONNX Slice with constant bounds; how circular
    padding is exported before opset 19). Backward: dx = zeros with grad written into the slice."""

    def __init__(self, starts, ends, axes, steps=None):
        super().__init__()
        self.starts, self.ends, self.axes = (tuple(int(v) for v in values) for values in (starts, ends, axes))
        self.steps = tuple(int(v) for v in steps) if steps is not None else (1,) * len(self.axes)

    def _index(self, ndim: int) -> tuple:
        index = [slice(None)] * ndim
        for start, end, axis, step in zip(self.starts, self.ends, self.axes, self.steps, strict=True):
            index[axis] = slice(start, end, step)
        return tuple(index)

    def forward(self, x):
        check_array(self, x)
        y = np.ascontiguousarray(x[self._index(x.ndim)])
        self.save_for_backward(x.shape, x.dtype, y.shape)
        return y

    def backward(self, grad_out):
        shape, dtype, out_shape = self.saved_for_backward()
        check_grad(self, grad_out, out_shape)
        grad = np.zeros(shape, dtype=grad_out.dtype)
        grad[self._index(len(shape))] = grad_out
        return grad

    def extra_repr(self):
        return f"starts={self.starts}, ends={self.ends}, axes={self.axes}, steps={self.steps}"
