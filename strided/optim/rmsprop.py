"""RMSprop: divide each step by a running root mean square of the gradients (torch.optim.RMSprop)."""

import numpy as np

from .adam import _lerp_
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
    maximize=False)`` (Hinton's lecture 6e; PyTorch's update rule and defaults).

    For each parameter p with gradient g (PyTorch's single-tensor update, step by step)::

        g = -g if maximize
        g = g + weight_decay * p                       (if weight_decay)
        v = alpha * v + (1 - alpha) * g * g            the running mean square
        m = alpha * m + (1 - alpha) * g                (if centered: as lerp(m, g, 1 - alpha))
        d = sqrt(v - m * m) + eps   if centered, else sqrt(v) + eps
        b = momentum * b + g / d;  p = p - lr * b      (if momentum > 0)
        p = p - lr * g / d                             (otherwise)

    State per parameter: ``step`` (a float, as in PyTorch), ``square_avg`` (v), with momentum
    ``momentum_buffer`` (b), with centered ``grad_avg`` (m).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, *, maximize: bool = False):
        for name, value in (("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        defaults = {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay, "momentum": momentum,
                    "centered": centered, "maximize": maximize}
        super().__init__(params, defaults)

    def _update_group(self, group: dict, params: list) -> None:
        # Python floats throughout: a NumPy float64 scalar would upcast float32 arithmetic.
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        for param in params:
            grad = -param.grad if group["maximize"] else param.grad
            state = self.state[param]
            if not state:
                state["step"] = 0.0
                state["square_avg"] = np.zeros_like(param.data)
                if momentum > 0:
                    state["momentum_buffer"] = np.zeros_like(param.data)
                if group["centered"]:
                    state["grad_avg"] = np.zeros_like(param.data)
            state["step"] += 1
            if weight_decay != 0:
                grad = grad + weight_decay * param.data  # a new array: the stored .grad stays as it was

            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * grad * grad
            if group["centered"]:
                grad_avg = state["grad_avg"]
                _lerp_(grad_avg, grad, 1 - alpha)
                avg = np.sqrt(square_avg - grad_avg * grad_avg)
            else:
                avg = np.sqrt(square_avg)
            avg += eps

            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += grad / avg
                param.data -= lr * buf
            else:
                param.data -= lr * (grad / avg)
