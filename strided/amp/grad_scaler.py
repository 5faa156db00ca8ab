"""GradScaler: dynamic loss scaling for float16 training, torch.amp.GradScaler's API and arithmetic.

Why: float16 has 10 mantissa bits and a smallest subnormal of 2^-24 (about 6e-8). The gradients of a
deep network are often smaller than that: stored in float16 between layers, they round to zero and the
weights they belong to stop learning. Multiplying the loss by a large factor S (2^16 to start) multiplies
every gradient by S, lifting it into float16's range; the gradients are divided by S again (``unscale_``,
in float32, on the parameters' float32 gradients) before clipping and the optimizer step.

S is chosen on the fly: a step whose gradients hold an inf or NaN (S was too large, something
overflowed) is skipped and S is multiplied by ``backoff_factor`` (halved); after ``growth_interval``
steps in a row without one, S is multiplied by ``growth_factor`` (doubled), to keep it as large as is safe.

One training step, as in PyTorch::

    loss = criterion(model(x), y)
    model.backward(criterion.backward(scaler.scale(1.0)))   # dL/dy times S
    scaler.unscale_(optimizer)          # optional: before clip_grad_norm_
    scaler.step(optimizer)              # skipped if any gradient is inf/NaN
    scaler.update()                     # back off or grow S

bfloat16 needs none of this: it has float32's exponent range (smallest normal 2^-126), so no gradient
underflows that float32 would keep; see docs/mixed-precision.md.
"""

import numpy as np

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _check_factor(value, name: str, low: float, high: float | None) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"GradScaler: {name} must be a number, got {type(value).__name__}")
    if not (value > low and (high is None or value < high)):
        bounds = f"> {low}" if high is None else f"in ({low}, {high})"
        raise ValueError(f"GradScaler: {name} must be {bounds}, got {value}")
    return float(value)


class GradScaler:
    """Dynamic loss scaling (torch.amp.GradScaler's arguments, defaults, methods and state_dict keys).

    The scale is kept as a float32, as PyTorch keeps it, so the sequence of scales is the same number
    for number. With ``enabled=False`` every method is a pass-through: ``scale`` returns its argument,
    ``step`` just steps, so one training loop serves both precisions.
    """

    def __init__(self, device: str = "cpu", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True):
        if not isinstance(device, str):  # torch's first argument is the device; ours only accepts "cpu"
            raise TypeError(f"GradScaler: device must be a string such as 'cpu', got {type(device).__name__}")
        self._init_scale = _check_factor(init_scale, "init_scale", 0.0, None)
        self._growth_factor = _check_factor(growth_factor, "growth_factor", 1.0, None)
        self._backoff_factor = _check_factor(backoff_factor, "backoff_factor", 0.0, 1.0)
        if not isinstance(growth_interval, int) or isinstance(growth_interval, bool) or growth_interval < 1:
            raise ValueError(f"GradScaler: growth_interval must be a positive integer, got {growth_interval!r}")
        self._growth_interval = growth_interval
        self._enabled = bool(enabled)
        self._scale = np.float32(self._init_scale)
        self._growth_tracker = 0
        self._per_optimizer = {}  # id(optimizer) -> {"stage": ..., "found_inf": bool}

    # ------------------------------------------------------------------ the step
    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs):
        """``outputs`` (a loss, a loss gradient seed, an array) times the current scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        return np.float32(self._scale) * np.asarray(outputs, dtype=np.float32) if np.ndim(outputs) else (
            np.float32(self._scale) * np.float32(outputs))

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def unscale_(self, optimizer) -> None:
        """Divide the gradients of ``optimizer``'s parameters by the scale, in place; note any inf/NaN.

        Call it at most once per ``update()``, before clipping or reading the gradients.
        """
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError("GradScaler.unscale_() has already been called on this optimizer "
                               "since the last update().")
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.unscale_() is being called after step().")
        # PyTorch's inverse: 1/scale in double, then rounded to float32, multiplied into each gradient.
        inv_scale = np.float32(1.0 / np.float64(self._scale))
        found_inf = False
        for group in optimizer.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if not np.isfinite(param.grad).all():
                    found_inf = True
                np.multiply(param.grad, param.grad.dtype.type(inv_scale), out=param.grad)
        state["found_inf"], state["stage"] = found_inf, _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless a gradient holds an inf/NaN (then the step is skipped: None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("GradScaler.step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Back off (any inf/NaN this step) or count a clean step, growing after ``growth_interval`` of them."""
        if not self._enabled:
            return
        if new_scale is not None:
            self._scale = np.float32(new_scale)
        else:
            if not self._per_optimizer:
                raise RuntimeError("GradScaler.update(): no inf checks were recorded prior to update "
                                   "(call unscale_() or step() first).")
            if any(s["found_inf"] for s in self._per_optimizer.values()):
                self._scale = np.float32(self._scale * np.float32(self._backoff_factor))
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    with np.errstate(over="ignore"):
                        grown = np.float32(self._scale * np.float32(self._growth_factor))
                    if np.isfinite(grown):  # PyTorch never grows the scale to inf
                        self._scale = grown
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # ------------------------------------------------------------------ inspection and state
    def get_scale(self) -> float:
        return float(self._scale) if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def state_dict(self) -> dict:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} if disabled)."""
        if not self._enabled:
            return {}
        return {"scale": float(self._scale), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            raise RuntimeError("GradScaler.load_state_dict() cannot be called on a disabled scaler.")
        if not state_dict:
            raise RuntimeError("GradScaler.load_state_dict(): the state_dict is empty (saved from a disabled scaler?).")
        self._init_scale = float(state_dict["scale"])
        self._scale = np.float32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])

    def __repr__(self) -> str:
        return (f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
                f"backoff_factor={self._backoff_factor}, growth_interval={self._growth_interval}, "
                f"enabled={self._enabled})")
