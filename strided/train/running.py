"""Metrics accumulated batch by batch during an epoch (the Trainer's running loss and accuracy).

Each metric is a function ``f(output, target) -> float``, the mean over a batch; the running value
is the mean over all samples seen (batch means weighted by batch size). Targets are class indices
(N,), or one-hot / soft targets (N, C), whose argmax is then the class.
"""

import re

import numpy as np

__all__ = ["RunningMetrics", "resolve_metrics"]


def _classes(target) -> np.ndarray:
    target = np.asarray(target)
    return target.argmax(axis=1) if target.ndim == 2 else target


def batch_accuracy(output, target) -> float:
    return float(np.mean(np.argmax(output, axis=1) == _classes(target)))


def batch_top_k_accuracy(k: int):
    def top_k(output, target) -> float:
        target = _classes(target)
        true_scores = output[np.arange(len(target)), target]
        return float(np.mean(np.sum(output > true_scores[:, None], axis=1) < k))

    return top_k


def resolve_metrics(metrics) -> dict:
    """Names ('accuracy', 'top5_accuracy', 'top_k_accuracy') or callables -> {name: function}."""
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    resolved = {}
    for metric in metrics or ():
        if callable(metric):
            resolved[getattr(metric, "__name__", type(metric).__name__)] = metric
            continue
        match = re.fullmatch(r"top_?(\d+|k)_accuracy", str(metric))
        if metric in ("accuracy", "acc"):
            resolved["accuracy"] = batch_accuracy
        elif match:
            k = 5 if match.group(1) == "k" else int(match.group(1))
            resolved[f"top{k}_accuracy"] = batch_top_k_accuracy(k)
        else:
            raise ValueError(
                f"Trainer: unknown metric {metric!r}; use 'accuracy', 'top5_accuracy' (any k) or a function "
                "f(output, target) -> float"
            )
    return resolved


class RunningMetrics:
    """Sample-weighted means of the loss and each metric over the batches seen so far."""

    def __init__(self, metrics: dict):
        self.metrics = metrics
        self.count = 0
        self.sums = {"loss": 0.0, **{name: 0.0 for name in metrics}}

    def update(self, output, target, loss: float) -> None:
        self.add(len(output), self.batch_values(output, target, loss))

    def batch_values(self, output, target, loss: float) -> dict:
        """The batch's loss and metrics, ``{name: mean over the batch}``, in the order of ``sums``."""
        return {"loss": loss, **{name: float(metric(output, target)) for name, metric in self.metrics.items()}}

    def add(self, n: int, values: dict) -> None:
        """Count a batch of ``n`` samples whose means are ``values`` (from ``batch_values``)."""
        self.count += n
        for name, value in values.items():
            self.sums[name] += value * n

    @property
    def loss(self) -> float:
        return self.sums["loss"] / max(self.count, 1)

    def get(self, name: str):
        return self.sums[name] / max(self.count, 1) if name in self.sums else None

    def results(self) -> dict:
        return {name: total / max(self.count, 1) for name, total in self.sums.items()}
