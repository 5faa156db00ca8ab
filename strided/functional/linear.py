"""torch.nn.functional's linear and dropout, with their backward; the kernels are
strided.functional.reference.linear and .dropout (they have no faster path)."""

from .dispatch import kernels


def linear(x, weight, bias=None):
    """y = x W^T + b."""
    return kernels().linear_forward(x, weight, bias, False)[0]


def linear_backward(grad_out, x, weight, bias=None):
    """(dL/dx, dL/dW, dL/db) = (g W, g^T x, sum of g over rows)."""
    return kernels().linear_forward(x, weight, bias)[1].backward(grad_out)


def dropout(x, p=0.5, training=True):
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) from strided's seeded generator; x itself when not training."""
    if not training or p == 0.0:
        return x
    return kernels().dropout_forward(x, p, None, False)[0]
