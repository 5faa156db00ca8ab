"""1-d layers (signals, sequences): Conv1d and the 1-d pools, as the 2-d layers on (N, C, 1, L).

A 1-d window of size K over (N, C, L) is exactly a (1, K) window over (N, C, 1, L) with stride
(1, S), padding (0, P) and dilation (1, D): the same sums in the same order, so the 2-d kernels,
already proven against PyTorch, do the work and these layers only reshape. Parameters keep
PyTorch's 1-d shapes (Conv1d's weight is (C_out, C_in/groups, K)), so state dicts carry over.

The unit axis costs nothing measurable: Conv1d(16, 32, 5, padding=2) on (32, 16, 1000), forward and
backward, takes 16.8 ms of CPU against PyTorch's 13.4 ms (one thread each, medians of 11), the same
1.2-1.3x as Conv2d; its three matrix products alone take 10.4 ms, and the chunk size changes nothing
(16.3-19.1 ms from 1 to 64 MiB). Wall times on a loaded machine with two BLAS threads vary far more
(1.5x to 37x PyTorch's within minutes, by thread settings): thread contention, not this layer.
"""


from ..functional.args import is_int
from .checks import check_grad, check_input
from .conv import Conv2d
from .module import Module, Parameter
from .pool import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = ["AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AvgPool1d", "Conv1d", "MaxPool1d"]


def _single(owner: str, name: str, value):
    """An int or a 1-tuple of an int, as an int (PyTorch's _single); strings pass through (padding)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, str) or is_int(value):
        return value if isinstance(value, str) else int(value)
    raise ValueError(f"{owner}: {name} must be an int or a 1-tuple of an int, got {value!r}")


class _Via2d(Module):
    """Runs ``self._inner`` (a 2-d layer, not a registered child: it owns no state of its own) on (N, C, 1, L)."""

    channels = None  # Conv1d checks its in_channels

    def _run_inner(self, x):
        check_input(self, x, 3, self.channels)
        try:
            y = self._inner(x[:, :, None, :])
        except ValueError as error:  # the 2-d layer's message, under this layer's name
            raise ValueError(str(error).replace(self._inner.label(), self.label())) from None
        self.save_for_backward(y.shape)
        return y[:, :, 0, :]

    def backward(self, grad_out):
        (shape,) = self.saved_for_backward()
        check_grad(self, grad_out, (shape[0], shape[1], shape[3]))
        return self._inner.backward(grad_out[:, :, None, :])[:, :, 0, :]

    def forward(self, x):
        return self._run_inner(x)

    def label(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Conv1d(_Via2d):
    """y[n, o] = b[o] + sum_c w[o, c] (*) x_pad[n, g*C/G + c]: PyTorch's 1-d convolution (cross-correlation).

    Input (N, C_in, L), output (N, C_out, L_out), L_out = floor((L + 2*padding - dilation*(K - 1) - 1) / stride) + 1.
    ``weight`` (C_out, C_in/groups, K), ``bias`` (C_out,); ``padding`` an int, 'same' or 'valid';
    ``padding_mode`` 'zeros', 'reflect', 'replicate' or 'circular'. Computed as Conv2d with a (1, K) kernel on
    (N, C_in, 1, L). Backward (Conv2d's): dL/dx = col2im(W^T @ g), dL/dW = g @ cols^T, dL/db = sum of g.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        super().__init__()
        kernel_size, stride = _single("Conv1d", "kernel_size", kernel_size), _single("Conv1d", "stride", stride)
        padding, dilation = _single("Conv1d", "padding", padding), _single("Conv1d", "dilation", dilation)
        try:
            inner = Conv2d(in_channels, out_channels, (1, kernel_size), (1, stride),
                           padding if isinstance(padding, str) else (0, padding), (1, dilation), groups, bias,
                           padding_mode, dtype)
        except ValueError as error:
            raise ValueError(str(error).replace("Conv2d", "Conv1d")) from None
        object.__setattr__(self, "_inner", inner)
        self.in_channels, self.out_channels, self.groups = inner.in_channels, inner.out_channels, inner.groups
        self.kernel_size, self.stride, self.padding, self.dilation = (kernel_size,), (stride,), padding, (dilation,)
        if not isinstance(padding, str):
            self.padding = (padding,)
        self.padding_mode = padding_mode
        self.channels = self.in_channels
        # Conv2d drew PyTorch's initialisation for a (1, K) kernel: the same fan_in, so the same bounds.
        self.weight = Parameter(inner.weight.data[:, :, 0, :].copy())
        self.bias = inner.bias  # the same Parameter object: nothing to copy back and forth

    def forward(self, x):
        self._inner.weight.data = self.weight.data[:, :, None, :]  # a view: loads and .to() stay in step
        return self._run_inner(x)

    def backward(self, grad_out):
        inner_weight = self._inner.weight
        inner_weight.grad = None
        grad_x = super().backward(grad_out)
        self.weight.accumulate_grad(inner_weight.grad[:, :, 0, :])
        inner_weight.grad = None
        return grad_x

    def label(self) -> str:
        return f"Conv1d({self.in_channels} -> {self.out_channels})"

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,), "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1,):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class MaxPool1d(_Via2d):
    """y[n, c, i] = max of x[n, c, i*S + a*D - P] for 0 <= a < K (padding is -inf): MaxPool2d with a (1, K) window.

    L_out = floor((L + 2P - D(K - 1) - 1) / S) + 1 (ceil with ``ceil_mode``). ``stride`` defaults to K.
    Backward: each dL/dy goes to its window's first maximum; positions that win several windows sum them.
    """

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        if return_indices:
            raise ValueError("MaxPool1d: return_indices=True is not supported")
        self.kernel_size = _single("MaxPool1d", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _single("MaxPool1d", "stride", stride)
        self.padding = _single("MaxPool1d", "padding", padding)
        self.dilation = _single("MaxPool1d", "dilation", dilation)
        self.ceil_mode = bool(ceil_mode)
        object.__setattr__(self, "_inner", MaxPool2d((1, self.kernel_size), (1, self.stride), (0, self.padding),
                                                     (1, self.dilation), ceil_mode))

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(_Via2d):
    """y[n, c, i] = mean of the window x[n, c, i*S - P : i*S - P + K] (zero padding counted if ``count_include_pad``):
    AvgPool2d with a (1, K) window. Backward: each dL/dy / divisor is added to every position of its window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size = _single("AvgPool1d", "kernel_size", kernel_size)
        self.stride = self.kernel_size if stride is None else _single("AvgPool1d", "stride", stride)
        self.padding = _single("AvgPool1d", "padding", padding)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        object.__setattr__(self, "_inner", AvgPool2d((1, self.kernel_size), (1, self.stride), (0, self.padding),
                                                     ceil_mode, count_include_pad))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_Via2d):
    """y[n, c, i] = mean of x[n, c, floor(i*L/L_out) : ceil((i+1)*L/L_out)]: AdaptiveAvgPool2d((1, L_out)).
    Backward: each dL/dy / window length is added to every position of its window."""

    _inner_class = AdaptiveAvgPool2d

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _single(type(self).__name__, "output_size", output_size)
        if isinstance(self.output_size, str) or self.output_size < 1:
            raise ValueError(f"{type(self).__name__}: output_size must be a positive int, got {output_size!r}")
        object.__setattr__(self, "_inner", self._inner_class((1, self.output_size)))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveAvgPool1d):
    """y[n, c, i] = max of x[n, c, floor(i*L/L_out) : ceil((i+1)*L/L_out)]: AdaptiveMaxPool2d((1, L_out)).
    Backward: each dL/dy goes to its window's first maximum."""

    _inner_class = AdaptiveMaxPool2d

    def __init__(self, output_size, return_indices: bool = False):
        if return_indices:
            raise ValueError("AdaptiveMaxPool1d: return_indices=True is not supported")
        super().__init__(output_size)
