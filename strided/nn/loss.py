"""Losses: modules with no parameters that score an output against a target and start the backward pass.

    value = criterion(output, target)    # a Python float (an array of per-element losses with reduction='none')
    grad = criterion.backward()          # dLoss/doutput, shaped and typed like the output
    model.backward(grad)

``backward(grad_out)`` also accepts the gradient of something downstream of the loss (a scalar,
or per-element losses' gradients for reduction='none'); it defaults to 1. Class targets are
integer arrays; every target is checked (shape, range, dtype) with an error naming the loss.
"""

import numpy as np

from ..functional.args import one_of
from ..functional.reference import loss as F
from .checks import check_array
from .module import Module

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss"]

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = one_of(reduction, _REDUCTIONS, "reduction", type(self).__name__)

    def _finish(self, losses: np.ndarray, denominator, output: np.ndarray, *saved):
        """Reduce, keep what backward needs, and return a float (or the per-element array)."""
        self.save_for_backward(output.shape, output.dtype, losses.shape, denominator, *saved)
        value = F.reduce_loss(losses, denominator, self.reduction)
        return value if self.reduction == "none" else float(value)

    def _scale(self, grad_out, losses_shape, denominator, dtype):
        """d(reduced loss)/d(each element's loss), checked against the per-element losses' shape."""
        if grad_out is None:
            grad_out = 1.0
        if self.reduction == "none":
            if np.shape(grad_out) not in ((), losses_shape):
                raise ValueError(f"{self.label()}: backward expected a gradient of shape {losses_shape} "
                                 f"(reduction='none'), got {np.shape(grad_out)}")
        elif np.shape(grad_out) != ():
            raise ValueError(f"{self.label()}: backward expected a scalar gradient, got shape {np.shape(grad_out)}")
        return F.reduction_scale(grad_out, denominator, self.reduction, dtype)

    def _check_same_shape(self, output, target) -> np.ndarray:
        target = np.asarray(target)
        if target.shape != output.shape:
            raise ValueError(f"{self.label()}: target shape {target.shape} does not match output shape {output.shape}")
        if not (np.issubdtype(target.dtype, np.number) or target.dtype == bool):
            raise ValueError(f"{self.label()}: expected a numeric target, got dtype {target.dtype}")
        return target.astype(output.dtype, copy=False)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _ClassLoss(_Loss):
    """Shared by the losses over class indices: target checks and the per-row coefficients q."""

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean"):
        super().__init__(reduction)
        if weight is not None:
            weight = np.asarray(weight)
            if weight.ndim != 1 or not np.issubdtype(weight.dtype, np.number):
                raise ValueError(f"{type(self).__name__}: weight must be a 1-D array of class weights, "
                                 f"got shape {weight.shape} and dtype {weight.dtype}")
            weight = weight.astype(weight.dtype if np.issubdtype(weight.dtype, np.floating) else np.float32)
        self.register_buffer("weight", weight)
        self.ignore_index = int(ignore_index)

    def _rows(self, output, target):
        """Check output (N, C, d...) or (C,) and its target; return (rows (M, C), target (M,), C)."""
        check_array(self, output)
        if output.ndim == 0:
            raise ValueError(f"{self.label()}: expected output of shape (N, C) or (N, C, d1, ...), got a scalar")
        target = np.asarray(target)
        if not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"{self.label()}: expected integer class indices as target, got dtype {target.dtype}")
        expected = () if output.ndim == 1 else (output.shape[0],) + output.shape[2:]
        if target.shape != expected:
            raise ValueError(f"{self.label()}: expected target of shape {expected} for output of shape "
                             f"{output.shape} (classes on axis 1), got {target.shape}")
        num_classes = output.shape[0] if output.ndim == 1 else output.shape[1]
        bad = (target != self.ignore_index) & ((target < 0) | (target >= num_classes))
        if np.any(bad):
            raise ValueError(f"{self.label()}: target {target[bad].flat[0]} is out of range for {num_classes} classes "
                             f"(expected 0 <= target < {num_classes}, or ignore_index={self.ignore_index})")
        if self.weight is not None and self.weight.shape != (num_classes,):
            raise ValueError(f"{self.label()}: weight has shape {self.weight.shape}, expected ({num_classes},) "
                             f"for output of shape {output.shape}")
        rows = output.reshape(1, -1) if output.ndim == 1 else F.to_rows(output)
        return rows, target.reshape(-1), num_classes

    def _weight(self, dtype):
        return None if self.weight is None else self.weight.astype(dtype, copy=False)

    def _grad_from_rows(self, grad_rows, output_shape):
        return grad_rows.reshape(output_shape) if len(output_shape) == 1 else F.from_rows(grad_rows, output_shape)


class CrossEntropyLoss(_ClassLoss):
    """Cross-entropy of logits: loss_i = -sum_c q_ic log softmax(x_i)_c, averaged (or summed).

    Targets are class indices, q_ic = w[y_i] (1 - eps) [c = y_i] + eps w_c / C (eps = label_smoothing,
    w = weight or ones), and the mean divides by sum_i w[y_i] over targets not equal to
    ``ignore_index``; or class probabilities shaped like the output (float), q_ic = w_c p_ic with
    p smoothed as p (1 - eps) + eps / C, and the mean divides by the number of rows.
    Output (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...) (or probabilities of the output's shape).
    Backward: dLoss/dx_i = s_i (softmax(x_i) sum_c q_ic - q_i), s_i the reduction's scale.
    """

    def __init__(self, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, output, target):
        target_array = np.asarray(target)
        if np.issubdtype(target_array.dtype, np.floating) and target_array.shape == np.shape(output):
            return self._forward_probabilities(output, target_array)
        rows, flat_target, num_classes = self._rows(output, target_array)
        q, denominator = F.class_coefficients(flat_target, num_classes, self._weight(output.dtype), self.ignore_index,
                                              self.label_smoothing, output.dtype)
        losses, log_p = F.cross_entropy(rows, q)
        return self._finish(losses.reshape(target_array.shape), denominator, output, q, log_p)

    def _forward_probabilities(self, output, target):
        check_array(self, output)
        if output.ndim == 0:
            raise ValueError(f"{self.label()}: expected output of shape (N, C) or (N, C, d1, ...), got a scalar")
        unbatched = output.ndim == 1
        rows = output.reshape(1, -1) if unbatched else F.to_rows(output)
        probabilities = target.reshape(1, -1) if unbatched else F.to_rows(target)
        num_classes = rows.shape[1]
        if self.weight is not None and self.weight.shape != (num_classes,):
            raise ValueError(f"{self.label()}: weight has shape {self.weight.shape}, expected ({num_classes},)")
        q = probabilities.astype(output.dtype)
        if self.label_smoothing > 0:
            q = q * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        if self.weight is not None:
            q = q * self._weight(output.dtype)
        losses, log_p = F.cross_entropy(rows, q)
        losses_shape = () if unbatched else (output.shape[0],) + output.shape[2:]
        return self._finish(losses.reshape(losses_shape), rows.shape[0], output, q, log_p)

    def backward(self, grad_out=None):
        output_shape, dtype, losses_shape, denominator, q, log_p = self.saved_for_backward()
        scale = self._scale(grad_out, losses_shape, denominator, dtype)
        row_scale = scale.reshape(-1, 1) if scale.ndim else scale
        return self._grad_from_rows(F.cross_entropy_backward(row_scale, q, log_p), output_shape)

    def extra_repr(self):
        parts = [super().extra_repr()]
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(filter(None, parts))


class NLLLoss(_ClassLoss):
    """Negative log-likelihood of log-probabilities (e.g. LogSoftmax's output): loss_i = -w[y_i] x[i, y_i].

    The mean divides by sum_i w[y_i] over targets not equal to ``ignore_index``.
    Output (N, C) or (N, C, d1, ...), target (N,) or (N, d1, ...).
    Backward: dLoss/dx[i, y_i] = -s_i w[y_i] (zero elsewhere), s_i the reduction's scale.
    """

    def forward(self, output, target):
        rows, flat_target, num_classes = self._rows(output, target)
        q, denominator = F.class_coefficients(flat_target, num_classes, self._weight(output.dtype), self.ignore_index,
                                              0.0, output.dtype)
        losses = F.nll(rows, q)
        return self._finish(losses.reshape(np.shape(target)), denominator, output, q)

    def backward(self, grad_out=None):
        output_shape, dtype, losses_shape, denominator, q = self.saved_for_backward()
        scale = self._scale(grad_out, losses_shape, denominator, dtype)
        row_scale = scale.reshape(-1, 1) if scale.ndim else scale
        return self._grad_from_rows(F.nll_backward(row_scale, q), output_shape)


class MSELoss(_Loss):
    """Mean squared error: loss = mean((output - target)^2) over every element (or sum, or none).

    Output and target must have the same shape (nothing is broadcast).
    Backward: dLoss/doutput = 2 (output - target) / numel (for the mean).
    """

    def forward(self, output, target):
        check_array(self, output)
        target = self._check_same_shape(output, target)
        return self._finish(F.mse(output, target), output.size, output, output, target)

    def backward(self, grad_out=None):
        _, dtype, losses_shape, denominator, output, target = self.saved_for_backward()
        return F.mse_backward(self._scale(grad_out, losses_shape, denominator, dtype), output, target)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits x against targets y in [0, 1], computed stably:

        loss = w [p y softplus(-x) + (1 - y) (x + softplus(-x))] = -w [p y log s(x) + (1 - y) log(1 - s(x))]

    with s the sigmoid, w = ``weight`` (broadcast to the output's shape) and p = ``pos_weight``
    (broadcast along the last axis, the classes). Backward: w [(1 - y) - (1 + (p - 1) y) s(-x)] times
    the reduction's scale (= w (s(x) - y) when p = 1).
    """

    def __init__(self, weight=None, reduction: str = "mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", None if weight is None else np.asarray(weight))
        self.register_buffer("pos_weight", None if pos_weight is None else np.asarray(pos_weight))

    def _broadcast(self, name, value, output):
        if value is None:
            return None
        try:
            fits = np.broadcast_shapes(value.shape, output.shape) == output.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{self.label()}: {name} of shape {value.shape} does not broadcast to the output's "
                             f"shape {output.shape}")
        return value.astype(output.dtype, copy=False)

    def forward(self, output, target):
        check_array(self, output)
        target = self._check_same_shape(output, target)
        weight = self._broadcast("weight", self.weight, output)
        pos_weight = self._broadcast("pos_weight", self.pos_weight, output)
        losses = F.bce_with_logits(output, target, weight, pos_weight)
        return self._finish(losses, output.size, output, output, target, weight, pos_weight)

    def backward(self, grad_out=None):
        _, dtype, losses_shape, denominator, output, target, weight, pos_weight = self.saved_for_backward()
        scale = self._scale(grad_out, losses_shape, denominator, dtype)
        return F.bce_with_logits_backward(scale, output, target, weight, pos_weight)
