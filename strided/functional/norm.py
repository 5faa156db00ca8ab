"""torch.nn.functional.batch_norm, and its backward; the kernels are strided.functional.reference.norm or
strided.functional.fast.norm (``batch_norm_forward`` / ``batch_norm_backward``, the pair layers call)."""

from .dispatch import kernels


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (axis 1): the batch's statistics when
    ``training`` (the running ones, if given, updated in place with ``momentum``), else the running ones."""
    return kernels().batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps,
                                        False)[0]


def batch_norm_backward(grad_out, x, running_mean, running_var, weight=None, bias=None, training=False, eps=1e-5):
    """(dL/dx, dL/dweight, dL/dbias) of batch_norm (the running statistics are not updated)."""
    running = (None, None) if training else (running_mean, running_var)  # nothing to update here
    _, ctx = kernels().batch_norm_forward(x, *running, weight, bias, training, 0.0, eps)
    return ctx.backward(grad_out)
