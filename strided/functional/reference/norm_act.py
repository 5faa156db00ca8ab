"""Batch norm, then an optional residual add, then ReLU: the three references composed, the definition the fused
kernel (strided/functional/fast/norm_act.py) must equal.

    y = relu(batch_norm(x) + residual)          (residual optional, shaped like x)

Backward, from g = dL/dy: g_r = g where y > 0 else 0 (ReLU); dL/dresidual = g_r (the add passes it on);
(dL/dx, dL/dweight, dL/dbias) = batch norm's backward of g_r.
"""

from ..dispatch import Context
from .activation import relu_forward
from .norm import batch_norm_forward


def batch_norm_relu_forward(x, running_mean, running_var, weight, bias, training, momentum, eps, residual=None,
                            need_backward=True):
    """(y, ctx): relu(batch_norm(x) + residual), batch_norm's arguments as in norm.batch_norm_forward."""
    z, bn_ctx = batch_norm_forward(x, running_mean, running_var, weight, bias, training, momentum, eps,
                                   need_backward)
    if residual is not None:
        z = z + residual  # + residual
    y, relu_ctx = relu_forward(z, need_backward)  # relu
    if not need_backward:
        return y, None
    return y, Context(batch_norm_relu_backward, bn=bn_ctx, relu=relu_ctx, has_residual=residual is not None)


def batch_norm_relu_backward(ctx, grad_out):
    """(dL/dx, dL/dweight, dL/dbias, dL/dresidual or None)."""
    grad = ctx.relu.backward(grad_out)  # through the ReLU
    dx, dweight, dbias = ctx.bn.backward(grad)  # through the batch norm
    return dx, dweight, dbias, grad if ctx.has_residual else None  # the add hands grad to both
