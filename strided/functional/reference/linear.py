"""Fully connected layer: y = x W^T + b over the last axis. There is no faster path (one BLAS product is it).

Backward, with x and g = dL/dy flattened to rows:  dL/dx = g W,   dL/dW = g^T x,   dL/db = sum of g over rows.
"""


from ..dispatch import Context


def linear_forward(x, weight, bias=None, need_backward=True):
    """(y, ctx): y = x W^T + b for x (*, in_features), W (out_features, in_features)."""
    y = x @ weight.T  # y = x W^T
    if bias is not None:
        y += bias  # + b
    return y, (Context(linear_backward, x=x, weight=weight, has_bias=bias is not None) if need_backward else None)


def linear_backward(ctx, grad_out):
    """(dL/dx, dL/dW, dL/db or None)."""
    rows = ctx.x.reshape(-1, ctx.x.shape[-1])
    g = grad_out.reshape(-1, grad_out.shape[-1])
    grad_weight = g.T @ rows  # dL/dW = g^T x
    grad_bias = g.sum(axis=0) if ctx.has_bias else None  # dL/db = sum of g over the rows
    return grad_out @ ctx.weight, grad_weight, grad_bias  # dL/dx = g W


