"""Callbacks: code that runs at fixed points of training, with Keras' names, arguments and defaults.

The Trainer calls, on every callback, in order: ``on_train_begin(logs)``, then per epoch
``on_epoch_begin(epoch, logs)``, per batch ``on_batch_begin(batch, logs)`` and
``on_batch_end(batch, logs)``, ``on_epoch_end(epoch, logs)``, and finally ``on_train_end(logs)``.
``epoch`` is 0-based, as in Keras; ``logs`` is the epoch's record (loss, accuracy, val_loss,
val_accuracy, lr, ...). A callback reaches the trainer as ``self.trainer`` and the model as
``self.model``; setting ``self.trainer.stop_training = True`` ends training after this epoch.

A callback whose decisions depend on the past (a best value, a patience counter) returns that
state from ``state_dict()`` and takes it back in ``load_state_dict()``, so a resumed run decides
exactly as an uninterrupted one would.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

__all__ = ["Callback", "EarlyStopping", "MetricsLogger", "ModelCheckpoint", "ReduceLROnPlateau"]


class Callback:
    """Base class: override the hooks you need. ``self.trainer`` and ``self.model`` are set by the Trainer."""

    trainer = None

    @property
    def model(self):
        return None if self.trainer is None else self.trainer.model

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs=None): ...

    def on_train_end(self, logs=None): ...

    def on_epoch_begin(self, epoch, logs=None): ...

    def on_epoch_end(self, epoch, logs=None): ...

    def on_batch_begin(self, batch, logs=None): ...

    def on_batch_end(self, batch, logs=None): ...

    def state_dict(self) -> dict:
        """What a resumed run needs to decide as this run would (empty for stateless callbacks)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def _mode_is_max(monitor: str, mode: str, owner: str) -> bool:
    """Keras' 'auto': accuracies (and AUC, F1, precision, recall) are maximised, everything else minimised."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        name = monitor.lower()
        return any(word in name for word in ("acc", "auc", "f1", "precision", "recall"))
    return mode == "max"


def _monitored(logs, monitor: str, owner: str):
    value = (logs or {}).get(monitor)
    if value is None:
        import warnings

        warnings.warn(
            f"{owner}: '{monitor}' is not among the logged values {sorted(logs or {})}; skipping", stacklevel=3
        )
        return None
    return float(value)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights`` the model gets back the weights of its best epoch when training
    ends. ``baseline``: training stops unless the monitored value beats it within ``patience``.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None,
                 restore_best_weights=False, start_from_epoch=0):
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.maximize = _mode_is_max(monitor, mode, "EarlyStopping")
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self.maximize else math.inf
        self.best_epoch = 0
        self.best_weights = None

    def _is_improvement(self, value, reference) -> bool:
        return value - self.min_delta > reference if self.maximize else value + self.min_delta < reference

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_state(self.model)
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = _copy_state(self.model)
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)
            self.trainer.weights_changed()

    def state_dict(self) -> dict:
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if self.best_weights is not None:
            self.best_weights = dict(self.best_weights)


def _copy_state(model) -> dict:
    return {name: np.array(value, copy=True) for name, value in model.state_dict().items()}


class ModelCheckpoint(Callback):
    """Write the model to ``filepath`` (a strided model file, with ``st.save``) at the end of each epoch.

    ``filepath`` may hold format fields filled from the epoch (1-based) and the logs, e.g.
    ``'model-{epoch:02d}-{val_loss:.3f}.safetensors'``. With ``save_best_only`` the file is only
    written when ``monitor`` improves; ``initial_value_threshold`` is the value to beat first.
    ``metadata`` (class_names, input_shape, preprocessing, name: see ``st.save``) goes into every
    file, so that ``strided predict`` and ``strided serve`` can use it as it is.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False, mode="auto",
                 initial_value_threshold=None, metadata=None):
        self.filepath = os.fspath(filepath)
        self.metadata = dict(metadata or {})
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.maximize = _mode_is_max(monitor, mode, "ModelCheckpoint")
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = -math.inf if self.maximize else math.inf

    def on_epoch_end(self, epoch, logs=None):
        from ..io import save
        from .distributed import is_main_process, unwrap

        logs = logs or {}
        try:
            path = self.filepath.format(**{**logs, "epoch": epoch + 1})
        except KeyError as error:
            raise ValueError(f"ModelCheckpoint: the filepath {self.filepath!r} names {error}, which is not among "
                             f"the logged values {sorted(logs)}") from error
        if self.save_best_only:
            current = _monitored(logs, self.monitor, "ModelCheckpoint")
            if current is None:
                return
            if not (current > self.best if self.maximize else current < self.best):
                if self.verbose:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                      f"saving model to {path}")
            self.best = current
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        model = unwrap(self.model)  # distributed: the module inside DDP; a Pipeline's gathered whole model
        if is_main_process():  # distributed: rank 0 alone writes
            save(model, path, **self.metadata)

    def state_dict(self) -> dict:
        return {"best": self.best}


class ReduceLROnPlateau(Callback):
    """Multiply every learning rate by ``factor`` when ``monitor`` has stopped improving for ``patience`` epochs.

    An improvement must beat the best value by more than ``min_delta``. After a reduction,
    ``cooldown`` epochs pass before counting again; the rate never goes below ``min_lr``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto", min_delta=1e-4,
                 cooldown=0, min_lr=0.0):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.maximize = _mode_is_max(monitor, mode, "ReduceLROnPlateau")
        self._reset()

    def _reset(self):
        self.best = -math.inf if self.maximize else math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = current > self.best + self.min_delta if self.maximize else current < self.best - self.min_delta
        if improved:
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                groups = self.trainer.optimizer.param_groups
                if any(group["lr"] > self.min_lr for group in groups):
                    for group in groups:
                        group["lr"] = max(group["lr"] * self.factor, self.min_lr)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {groups[0]['lr']:.4g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "wait": self.wait, "cooldown_counter": self.cooldown_counter}


class MetricsLogger(Callback):
    """Write the history to ``path`` as JSON lines: one object per epoch, appended as each epoch ends.

    At the start of training the file is rewritten from the trainer's history, so a resumed run
    continues the file of the run it resumes, without duplicated or missing lines.
    """

    def __init__(self, path):
        self.path = Path(path)

    def on_train_begin(self, logs=None):
        from ..io.atomic import atomic_write_bytes
        from .distributed import is_main_process

        if not is_main_process():  # distributed: rank 0 alone writes
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(_json_line(record) for record in self.trainer.history)
        atomic_write_bytes(self.path, lines.encode())  # a crash here leaves the old file whole

    def on_epoch_end(self, epoch, logs=None):
        from .distributed import is_main_process

        if not is_main_process():
            return
        with self.path.open("a") as file:
            file.write(_json_line({"epoch": epoch + 1, **(logs or {})}))
            file.flush()


def _json_line(record: dict) -> str:
    # NumPy scalars that a custom callback or metric may put in the logs become plain numbers.
    return json.dumps(record, default=lambda value: value.item() if hasattr(value, "item") else str(value)) + "\n"
