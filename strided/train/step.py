"""One optimizer step of the Trainer, in the order it happens (mixed into Trainer).

    forward -> loss -> [finite check] -> loss.backward() -> model.backward()   (x grad_accum_steps)
    -> [unscale] -> [average the accumulated gradients] -> [clip_grad_norm_] -> [lr warm-up] -> optimizer.step()

With loss scaling (float16 mixed precision) the loss gradient is multiplied by the GradScaler's scale
before the backward and the gradients are unscaled before the clipping; a step whose gradients hold
inf/NaN is skipped. A Pipeline (distributed) runs its micro-batches through the stages instead.
"""

import inspect

import numpy as np

from .distributed import clip_gradients, is_pipeline, pipeline_step

__all__ = ["NonFiniteLossError", "StepMixin"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; ``epoch`` (1-based), ``step`` and ``batch`` say where."""

    def __init__(self, value: float, epoch: int, step: int, batch: int):
        self.value, self.epoch, self.step, self.batch = value, epoch, step, batch
        super().__init__(
            f"the loss became {value} at epoch {epoch}, optimizer step {step}, batch {batch} of the epoch "
            "(0-based): training stopped. Try a lower learning rate, clip_grad_norm, or look for NaN/inf in "
            "the inputs"
        )


class StepMixin:
    """``_forward_backward`` (one batch), ``_optimizer_step`` (one update) and the scheduler's epoch step."""

    def _forward_backward(self, x, y, weight, epoch: int, index: int):
        if is_pipeline(self.model):  # distributed: micro-batches through the stages; the loss from the last one
            out, value = pipeline_step(self.model, x, y, self.loss, weight)
            if self.check_finite and not np.isfinite(value):
                raise NonFiniteLossError(value, epoch + 1, self.global_step + 1, index)
            return out, value
        with self.precision.autocast():
            out = self.model(x)
            value = float(self.loss(out, y))
        if self.check_finite and not np.isfinite(value):
            raise NonFiniteLossError(value, epoch + 1, self.global_step + 1, index)
        if not self.scaler.is_enabled():
            grad = self.loss.backward()
            self.model.backward(grad * weight if weight != 1 else grad)
            return out, value
        # Loss scaling: a scale too large overflows float16 on purpose; the scaler sees the inf/NaN in the
        # gradients, skips the step and backs off, so NumPy's overflow warnings are expected here.
        grad = self.loss.backward(self.scaler.scale(1.0))
        with np.errstate(over="ignore", invalid="ignore"):
            self.model.backward(grad * weight if weight != 1 else grad)
        return out, value

    def _optimizer_step(self, accumulated_weight: int) -> None:
        self.scaler.unscale_(self.optimizer)  # before the clipping: the true gradients (no-op if disabled)
        if accumulated_weight != 1:
            for param in self.model.parameters():
                if param.grad is not None:
                    param.grad /= accumulated_weight
        if self.clip_grad_norm is not None:
            clip_gradients(self.model, self.clip_grad_norm)  # distributed: a Pipeline's norm covers all stages
        groups = self.optimizer.param_groups
        lrs = [group["lr"] for group in groups]
        if self.global_step < self.warmup_steps:
            factor = (self.global_step + 1) / self.warmup_steps
            for group, lr in zip(groups, lrs, strict=True):
                group["lr"] = lr * factor
        self._last_lr = float(groups[0]["lr"])
        try:
            self.scaler.step(self.optimizer)  # skipped when a gradient is inf/NaN (loss scaling)
            self.scaler.update()
        finally:
            for group, lr in zip(groups, lrs, strict=True):
                group["lr"] = lr
        self.global_step += 1
        if self.scheduler is not None and self.scheduler_interval == "step":
            self.scheduler.step()

    def _step_scheduler_epoch(self, record: dict) -> None:
        if self.scheduler is None or self.scheduler_interval != "epoch":
            return
        if "metrics" in inspect.signature(self.scheduler.step).parameters:
            self.scheduler.step(record.get("val_loss", record["loss"]))
        else:
            self.scheduler.step()
