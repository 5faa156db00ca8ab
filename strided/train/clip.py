"""Gradient-norm clipping, as ``torch.nn.utils.clip_grad_norm_``.

All gradients are treated as one long vector: its norm is ``||(||g_1||, ..., ||g_n||)||``, and
when it exceeds ``max_norm`` every gradient is scaled by ``max_norm / (norm + 1e-6)``, so the
direction of the update is kept and only its length is limited.
"""

import math

import numpy as np

__all__ = ["clip_grad_norm_"]

EPS = 1e-6  # PyTorch's, added to the norm so that a zero gradient never divides by zero


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> float:
    """Scale the gradients of ``parameters`` in place so their global norm is at most ``max_norm``.

    Returns the total norm before clipping (a Python float). Parameters without a gradient are
    skipped. ``norm_type`` may be any p >= 1 or ``inf`` (the largest absolute entry).
    """
    if hasattr(parameters, "data") and hasattr(parameters, "grad"):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if not (norm_type >= 1 or math.isinf(norm_type)):
        raise ValueError(f"clip_grad_norm_: norm_type must be >= 1 or inf, got {norm_type}")
    dtype = np.result_type(*grads)
    if math.isinf(norm_type):
        total = max(np.max(np.abs(g)) if g.size else dtype.type(0) for g in grads)
        total = dtype.type(total)
    else:
        norms = np.array([np.linalg.norm(g.reshape(-1), ord=norm_type) for g in grads], dtype=dtype)
        total = dtype.type(np.linalg.norm(norms, ord=norm_type))
    if not np.isfinite(total) and error_if_nonfinite:
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite ({total}); "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = min(dtype.type(max_norm) / (total + dtype.type(EPS)), dtype.type(1.0))
    for g in grads:
        g *= coef
    return float(total)
