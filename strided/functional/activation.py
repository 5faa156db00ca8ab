"""torch.nn.functional's activations, with the backward of each (dL/dx from dL/dy and the input x).

The kernels are strided.functional.reference.activation or their fast equals.
"""

from .dispatch import kernels


def relu(x):
    """y = max(x, 0)."""
    return kernels().relu_forward(x, False)[0]


def relu_backward(grad_out, x):
    """dL/dx = dL/dy where x > 0, else 0."""
    return kernels().relu_forward(x)[1].backward(grad_out)


def leaky_relu(x, negative_slope=0.01):
    """y = x if x > 0 else negative_slope * x."""
    return kernels().leaky_relu_forward(x, negative_slope, False)[0]


def leaky_relu_backward(grad_out, x, negative_slope=0.01):
    return kernels().leaky_relu_forward(x, negative_slope)[1].backward(grad_out)


def elu(x, alpha=1.0):
    """y = x if x > 0 else alpha * (exp(x) - 1)."""
    return kernels().elu_forward(x, alpha, False)[0]


def elu_backward(grad_out, x, alpha=1.0):
    return kernels().elu_forward(x, alpha)[1].backward(grad_out)


def gelu(x, approximate="none"):
    """y = x * Phi(x), Phi the standard normal CDF (or its tanh approximation)."""
    return kernels().gelu_forward(x, approximate, False)[0]


def gelu_backward(grad_out, x, approximate="none"):
    return kernels().gelu_forward(x, approximate)[1].backward(grad_out)


def sigmoid(x):
    """y = 1 / (1 + exp(-x))."""
    return kernels().sigmoid_forward(x, False)[0]


def sigmoid_backward(grad_out, x):
    return kernels().sigmoid_forward(x)[1].backward(grad_out)


def tanh(x):
    """y = tanh(x)."""
    return kernels().tanh_forward(x, False)[0]


def tanh_backward(grad_out, x):
    return kernels().tanh_forward(x)[1].backward(grad_out)


def softmax(x, dim):
    """y_i = exp(x_i) / sum_j exp(x_j) along ``dim``."""
    return kernels().softmax_forward(x, dim, False)[0]


def softmax_backward(grad_out, x, dim):
    return kernels().softmax_forward(x, dim)[1].backward(grad_out)


def log_softmax(x, dim):
    """y_i = x_i - log sum_j exp(x_j) along ``dim``."""
    return kernels().log_softmax_forward(x, dim, False)[0]


def log_softmax_backward(grad_out, x, dim):
    return kernels().log_softmax_forward(x, dim)[1].backward(grad_out)
