"""Loss functions, each forward beside its gradient with respect to the model's output.

There is no faster path: strided.functional.fast uses these kernels as they are.

Every forward returns the per-element losses (before reduction) and the denominator that
reduction='mean' divides by, so that one ``reduce_loss`` serves all of them; every backward
takes the gradient of the reduced loss (a scalar, or per-element for reduction='none') and
returns the gradient with respect to the output, in the output's dtype.

Classification losses take the class axis as axis 1: logits (N, C) or (N, C, d1, d2, ...),
targets (N,) or (N, d1, d2, ...). ``to_rows`` moves the class axis last and flattens the rest, so
the kernels work on (M, C) rows; ``from_rows`` undoes it.
"""

import numpy as np

from ..dispatch import Context


# ---------------------------------------------------------------- shared plumbing
def to_rows(x: np.ndarray) -> np.ndarray:
    """(N, C, d1, ...) -> (N * d1 * ..., C): one row per prediction, classes along the row."""
    if x.ndim == 2:
        return x
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def from_rows(rows: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of ``to_rows`` for an array of the original ``shape``."""
    if len(shape) == 2:
        return rows
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def reduce_loss(losses: np.ndarray, denominator, reduction: str):
    """'none': the per-element losses; 'sum': their sum; 'mean': the sum / denominator."""
    if reduction == "none":
        return losses
    total = np.sum(losses)
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 (everything ignored) is nan, as PyTorch
        return total / denominator


def reduction_scale(grad, denominator, reduction: str, dtype):
    """d(reduced loss)/d(per-element loss), times the incoming gradient: broadcastable to the losses."""
    grad = np.asarray(grad, dtype=dtype)
    if reduction == "mean":
        if denominator == 0:  # every target ignored: the loss is nan and, as in PyTorch, nothing gets a gradient
            return np.zeros_like(grad)
        return grad / np.asarray(denominator, dtype=dtype)
    return grad


# ---------------------------------------------------------------- cross-entropy and NLL on class indices
def class_coefficients(target: np.ndarray, num_classes: int, weight, ignore_index: int, label_smoothing: float,
                       dtype) -> tuple[np.ndarray, np.ndarray]:
    """The loss of row i is -sum_c q[i, c] * log p[i, c]: returns (q (M, C), denominator for 'mean').

    q[i, c] = w[y_i] * (1 - eps) * [c == y_i] + eps / C * w[c], zero on rows whose target is
    ``ignore_index``; the mean divides by sum of w[y_i] over the rows not ignored (PyTorch's rule,
    label smoothing included).
    """
    kept = target != ignore_index
    safe_target = np.where(kept, target, 0)
    w = np.ones(num_classes, dtype=dtype) if weight is None else weight
    target_weight = np.where(kept, w[safe_target], 0).astype(dtype, copy=False)
    rows = np.arange(target.size)
    q = np.zeros((target.size, num_classes), dtype=dtype)
    if label_smoothing > 0:
        q += w * (label_smoothing / num_classes)
        q *= kept[:, None]
    q[rows, safe_target] += target_weight * (1.0 - label_smoothing)
    return q, np.sum(target_weight)


def cross_entropy(logits: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row losses -sum_c q[i, c] * log_softmax(logits)[i, c] for logits (M, C); returns (losses, log p)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log softmax, stable
    return -np.sum(q * log_p, axis=1), log_p


def cross_entropy_backward(row_scale: np.ndarray, q: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    """d/dlogits of sum_i s_i * loss_i: s_i * (softmax_i * sum_c q[i, c] - q[i])."""
    grad = np.exp(log_p)
    grad *= np.sum(q, axis=1, keepdims=True)
    grad -= q
    grad *= row_scale
    return grad


def nll(log_p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Per-row losses -sum_c q[i, c] * log_p[i, c] (log_p given: NLLLoss's input)."""
    return -np.sum(q * log_p, axis=1)


def nll_backward(row_scale: np.ndarray, q: np.ndarray) -> np.ndarray:
    """d/dlog_p of sum_i s_i * loss_i: -s_i * q[i]."""
    return q * -row_scale


# ---------------------------------------------------------------- regression and binary losses
def mse(output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-element (output - target)^2."""
    diff = output - target
    return diff * diff


def mse_backward(scale, output: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d/doutput of sum s * (output - target)^2: 2 s (output - target)."""
    return (output - target) * (scale * 2.0)


def bce_with_logits(logits, target, weight=None, pos_weight=None) -> np.ndarray:
    """Per-element -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))], computed stably as
    w [(1 - y) x + (1 + (p - 1) y) softplus(-x)] with softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)."""
    softplus_neg = np.log1p(np.exp(-np.abs(logits))) + np.maximum(-logits, 0)
    log_weight = 1.0 if pos_weight is None else (pos_weight - 1.0) * target + 1.0
    losses = (1.0 - target) * logits + log_weight * softplus_neg
    return losses if weight is None else losses * weight


def bce_with_logits_backward(scale, logits, target, weight=None, pos_weight=None) -> np.ndarray:
    """d/dx of s * loss: s w [(1 - y) - (1 + (p - 1) y) sigmoid(-x)] (= s w (sigmoid(x) - y) when p = 1)."""
    e = np.exp(-np.abs(logits))
    sigmoid_neg = np.where(logits >= 0, e, 1.0) / (e + 1.0)
    log_weight = 1.0 if pos_weight is None else (pos_weight - 1.0) * target + 1.0
    grad = (1.0 - target) - log_weight * sigmoid_neg
    if weight is not None:
        grad = grad * weight
    return grad * scale


# ---------------------------------------------------------------- the kernel interface: (losses, ctx)
# ``ctx.backward(s)`` takes s = d(reduced loss)/d(per-element loss) (per row for the class losses) and returns
# the gradient with respect to the output.
def cross_entropy_forward(logits, q, need_backward=True):
    """(per-row losses, ctx) for logits (M, C) and coefficients q (M, C)."""
    losses, log_p = cross_entropy(logits, q)
    return losses, (Context(_cross_entropy_backward, q=q, log_p=log_p) if need_backward else None)


def _cross_entropy_backward(ctx, scale):
    return cross_entropy_backward(scale, ctx.q, ctx.log_p)


def nll_forward(log_p, q, need_backward=True):
    return nll(log_p, q), (Context(_nll_backward, q=q) if need_backward else None)


def _nll_backward(ctx, scale):
    return nll_backward(scale, ctx.q)


def mse_forward(output, target, need_backward=True):
    return mse(output, target), (Context(_mse_backward, output=output, target=target) if need_backward else None)


def _mse_backward(ctx, scale):
    return mse_backward(scale, ctx.output, ctx.target)


def bce_with_logits_forward(logits, target, weight=None, pos_weight=None, need_backward=True):
    losses = bce_with_logits(logits, target, weight, pos_weight)
    if not need_backward:
        return losses, None
    return losses, Context(_bce_with_logits_backward, logits=logits, target=target, weight=weight,
                           pos_weight=pos_weight)


def _bce_with_logits_backward(ctx, scale):
    return bce_with_logits_backward(scale, ctx.logits, ctx.target, ctx.weight, ctx.pos_weight)
