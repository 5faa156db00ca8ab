"""Trainer checkpoints: everything a resumed run needs to end with the same weights, bit for bit.

A run resumed from the checkpoint of epoch k must make exactly the draws and updates the
uninterrupted run made from epoch k + 1 on. So the checkpoint holds, besides the weights: the
optimizer's state (momenta, moments, the lr of each group), the scheduler's, the epoch and the
optimizer step count (for the warm-up), strided's random generator (dropout masks, augmentation,
shuffling), the training loader's own generator when it has one (``loader.state_dict()``; a loader
that derives its shuffle from (seed, epoch) instead is told the epoch with ``set_epoch``), the
history, each callback's decision state (EarlyStopping's best value and patience counter), and the
loss scale of mixed-precision training (the GradScaler's state).
It is written with ``strided.io.save_checkpoint``: safetensors plus JSON, no pickle, atomically.
"""

from ..distributed import barrier
from ..io import load_checkpoint as _read_checkpoint
from ..io import save_checkpoint as _write_checkpoint
from ..io.model_file import ModelFileError
from ..rng import get_rng_state, set_rng_state
from .distributed import (
    all_rng_states,
    is_main_process,
    load_model_state,
    model_state,
    optimizer_states,
    own_optimizer_state,
    restore_own_rng_state,
)
from .progress import History

FORMAT = "strided-trainer"
VERSION = 1


class CheckpointMixin:
    """``state_dict`` / ``load_state_dict`` and the file versions, mixed into Trainer."""

    def state_dict(self) -> dict:
        loader_state = getattr(self._train_loader, "state_dict", None)
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "stopped_early": self._stopped_early,
            # distributed: the module inside DistributedDataParallel, so a checkpoint resumes on any number of ranks;
            # a Pipeline's whole model, gathered from its stages to rank 0
            "model": model_state(self.model),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_ranks": optimizer_states(self.optimizer, self.model),  # distributed: each stage's (Pipeline)
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": get_rng_state(),
            "rng_ranks": all_rng_states(),  # distributed: every rank's generator (None on one process)
            "loader": loader_state() if callable(loader_state) else self._pending_loader_state,
            "history": [dict(record) for record in self.history],
            "callbacks": [{"class": type(c).__name__, "state": c.state_dict()} for c in self.callbacks],
            "grad_scaler": self.scaler.state_dict(),  # {} unless loss scaling is on (16-mixed)
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a ``state_dict()``. The loader's and callbacks' parts are applied when ``fit`` starts
        (callbacks reset themselves in ``on_train_begin``, so theirs must come after it)."""
        if state.get("format") != FORMAT:
            raise ModelFileError("not a strided trainer checkpoint (no 'strided-trainer' format marker)")
        saved = [entry["class"] for entry in state["callbacks"]]
        own = [type(c).__name__ for c in self.callbacks]
        if saved != own:
            raise ValueError(f"Trainer checkpoint: it was written with callbacks {saved}, this trainer has {own}")
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError("Trainer checkpoint: the scheduler (or its absence) differs from the checkpoint's")
        load_model_state(self.model, state["model"])  # distributed: a Pipeline stage takes its part
        self.optimizer.load_state_dict(own_optimizer_state(state))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        restore_own_rng_state(state.get("rng_ranks"))
        if state.get("grad_scaler") and self.scaler.is_enabled():  # older checkpoints have none
            self.scaler.load_state_dict(state["grad_scaler"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self._stopped_early = bool(state["stopped_early"])
        self.history = History(dict(record) for record in state["history"])
        self._pending_loader_state = state["loader"]
        self._pending_callback_states = [entry["state"] for entry in state["callbacks"]]
        self._val_outputs = None
        if self._train_loader is not None:
            self._apply_pending_loader_state(self._train_loader)

    def save_checkpoint(self, path):
        """Write the trainer's state to ``path`` (atomically: a kill leaves the previous file intact).

        Distributed: every rank must call it (the generators are gathered); rank 0 alone writes, and every
        rank returns once the file is there (so that a rank reading it next never finds the previous one)."""
        state = self.state_dict()
        written = _write_checkpoint(path, state) if is_main_process() else None
        barrier()
        return written

    def load_checkpoint(self, path) -> None:
        """Restore a checkpoint written by ``save_checkpoint``; ``fit`` then continues after its epoch."""
        state = _read_checkpoint(path)
        if state.get("format") != FORMAT:
            raise ModelFileError(f"{path}: a checkpoint, but not a strided Trainer's (no '{FORMAT}' marker)")
        self.load_state_dict(state)

    def _apply_pending_loader_state(self, loader) -> None:
        if self._pending_loader_state is None:
            return
        load = getattr(loader, "load_state_dict", None)
        if not callable(load):
            raise ValueError("Trainer checkpoint: it holds a loader state but this training loader has no "
                             "load_state_dict(); resume with the same kind of loader")
        load(self._pending_loader_state)
        self._pending_loader_state = None

    def _apply_pending_callback_states(self) -> None:
        if self._pending_callback_states is None:
            return
        for callback, state in zip(self.callbacks, self._pending_callback_states, strict=True):
            callback.load_state_dict(state)
        self._pending_callback_states = None
