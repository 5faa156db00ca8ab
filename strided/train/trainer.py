"""The Trainer: the training loop, written once, with what a real run needs around it.

One optimizer step, in the order it happens:

    forward -> loss -> [finite check] -> loss.backward() -> model.backward()   (x grad_accum_steps)
    -> [average the accumulated gradients] -> [clip_grad_norm_] -> [lr warm-up] -> optimizer.step()

Gradient accumulation makes N small batches equal one large batch: with a mean-reduced loss,
each small batch's gradient is weighted by its size and the sum divided by the group's total
size, which is the gradient of the mean loss over the union (exactly, up to rounding, for a loss
averaged over samples; batch norm is the exception, as its statistics are per batch, and so are
class weights and ignore_index, which change a batch's denominator). The warm-up scales every group's lr by
``(step + 1) / warmup_steps`` for the first steps, only for the duration of ``optimizer.step()``,
so schedulers and callbacks never see the scaled value.

Epochs end with: validation, the scheduler's step, the summary line, the callbacks, the history
record, the plots (``run_dir``) and an atomic checkpoint (``checkpoint_path``). A checkpoint holds
everything a resumed run needs to end with the same weights bit for bit (see checkpoint.py).

The pieces live beside this file: step.py (one optimizer step: precision, loss scaling, accumulation,
clipping, warm-up), inference.py (evaluate, predict), checkpoint.py (save and resume).
"""

import time
import warnings
from pathlib import Path

from ..amp import GradScaler, get_precision
from ..functional.args import positive_int
from .callbacks import Callback, MetricsLogger
from .checkpoint import CheckpointMixin
from .distributed import is_main_process, reduce_running, sync_context, update_running
from .inference import InferenceMixin, split_batch
from .progress import EpochProgress, History, bars_wanted, format_summary
from .run_dir import class_names_of, prepare_run, write_confusion_matrix_plot, write_history_plot
from .running import RunningMetrics, resolve_metrics
from .step import NonFiniteLossError, StepMixin

__all__ = ["NonFiniteLossError", "Trainer"]


class Trainer(StepMixin, InferenceMixin, CheckpointMixin):
    """Train ``model`` with ``optimizer`` on ``loss`` (a criterion: ``loss(output, target)`` then ``loss.backward()``).

    Arguments:
        scheduler: an lr scheduler, stepped once per epoch (``scheduler_interval='step'``: per
            optimizer step). One whose ``step`` takes ``metrics`` (ReduceLROnPlateau) gets
            ``val_loss``, or ``loss`` without validation.
        callbacks: Callback instances (EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, ...).
        grad_accum_steps: batches whose gradients make one optimizer step: with a mean loss, the
            gradient of the mean over all their images (each batch weighted by its size), equal to
            one batch that many times larger; with a sum loss, the mean of the batches' gradients.
        clip_grad_norm: clip the global L2 norm of the gradients to this value before each step.
        metrics: names ('accuracy', 'top5_accuracy', 'top_k_accuracy' = top 5) or functions
            ``f(output, target) -> float`` (a batch mean), reported with their ``val_`` twins.
        progress: True, False or 'auto' (a bar per epoch only on a terminal); verbose=0 also
            silences the per-epoch summary line.
        run_dir: a folder for history.png (each epoch), confusion_matrix.png (at the end, with a
            validation loader) and metrics.jsonl (unless a MetricsLogger is given).
        warmup_steps: optimizer steps over which the lr rises linearly to its value.
        check_finite: stop with NonFiniteLossError when the loss is NaN or infinite.
        class_names: for the confusion matrix (default: the validation dataset's ``classes``).
        precision: "32", "16-mixed" or "bf16-mixed" (PyTorch Lightning's names): in a mixed policy the
            tensors saved for backward and the gradients between layers are stored in 16 bits; weights,
            products and reductions stay float32 (docs/mixed-precision.md).
        grad_scaler: an ``st.amp.GradScaler`` (default: one with PyTorch's defaults for "16-mixed",
            a disabled one otherwise); its state is part of the checkpoints.

    Inputs are cast to the model's parameter dtype (so a float32 loader can feed a float64 model).
    """

    def __init__(self, model, optimizer, loss, scheduler=None, callbacks=(), grad_accum_steps=1,
                 clip_grad_norm=None, metrics=("accuracy",), progress="auto", verbose=1, run_dir=None,
                 warmup_steps=0, check_finite=True, scheduler_interval="epoch", class_names=None,
                 precision="32", grad_scaler=None):
        positive_int(grad_accum_steps, "grad_accum_steps", "Trainer")
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"Trainer: clip_grad_norm must be positive or None, got {clip_grad_norm!r}")
        positive_int(warmup_steps, "warmup_steps", "Trainer", minimum=0)
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise ValueError(f"Trainer: callbacks must be Callback instances, got {type(callback).__name__}")
        bars_wanted(progress)  # validates it
        self.model, self.optimizer, self.loss, self.scheduler = model, optimizer, loss, scheduler
        self.callbacks = list(callbacks)
        self.grad_accum_steps, self.clip_grad_norm, self.warmup_steps = grad_accum_steps, clip_grad_norm, warmup_steps
        self.metrics = resolve_metrics(metrics)
        self.progress, self.verbose, self.check_finite = progress, verbose, check_finite
        if not is_main_process():  # distributed: rank 0 alone shows progress and summaries
            self.verbose = 0
        self.scheduler_interval = scheduler_interval
        self.class_names = None if class_names is None else list(class_names)
        self.precision = get_precision(precision)
        self.scaler = GradScaler(enabled=self.precision.needs_scaler) if grad_scaler is None else grad_scaler
        self.run_dir = None if run_dir is None else Path(run_dir)
        if self.run_dir is not None and not any(isinstance(c, MetricsLogger) for c in self.callbacks):
            self.callbacks.append(MetricsLogger(self.run_dir / "metrics.jsonl"))
        for callback in self.callbacks:
            callback.set_trainer(self)
        self.history = History()
        self.epoch = 0  # epochs completed
        self.global_step = 0  # optimizer steps taken
        self.stop_training = False
        self._stopped_early = False
        self._train_loader = None
        self._pending_loader_state = None
        self._pending_callback_states = None
        self._val_outputs = None  # (predictions, targets) of the last validation, for the confusion matrix
        self._weights_restored = False
        self._last_lr = None

    # ----------------------------------------------------------------- public API
    def fit(self, train_loader, val_loader=None, epochs=1, checkpoint_path=None, resume=False) -> History:
        """Train until ``epochs`` epochs are completed in total; returns (and keeps) the History.

        ``epochs`` counts from the start of training, as Keras' ``epochs`` with ``initial_epoch``:
        a trainer that has completed 3 epochs (or resumes a checkpoint of epoch 3) and is asked for
        ``epochs=5`` trains 2 more. With ``checkpoint_path`` a checkpoint is written atomically after
        every epoch; with ``resume=True`` training continues from it if it exists.
        """
        positive_int(epochs, "epochs", "Trainer.fit")
        if resume and checkpoint_path is None:
            raise ValueError("Trainer.fit: resume=True needs a checkpoint_path")
        prepare_run(self, checkpoint_path)
        self._train_loader = train_loader
        resumed = resume and Path(checkpoint_path).is_file()
        if resumed:
            self.load_checkpoint(checkpoint_path)
        self._apply_pending_loader_state(train_loader)
        if resumed and self._stopped_early:
            warnings.warn(f"Trainer.fit: the checkpoint's run was stopped by a callback after epoch {self.epoch}; "
                          "nothing to do", stacklevel=2)
            return self.history
        if self.epoch >= epochs:
            warnings.warn(f"Trainer.fit: {self.epoch} epochs already completed of {epochs}; nothing to do",
                          stacklevel=2)
            return self.history
        self.stop_training = self._stopped_early = self._weights_restored = False
        self._call("on_train_begin", {})
        self._apply_pending_callback_states()
        for epoch in range(self.epoch, epochs):
            self._call("on_epoch_begin", epoch, {})
            record = self._run_epoch(train_loader, val_loader, epoch, epochs)
            if self.verbose:
                print(format_summary(record, epochs), flush=True)
            self._call("on_epoch_end", epoch, record)
            self.history.append(record)
            self.epoch = epoch + 1
            self._stopped_early = self.stop_training and self.epoch < epochs
            if self.run_dir is not None and is_main_process():
                write_history_plot(self)
            if checkpoint_path is not None:
                self.save_checkpoint(checkpoint_path)
            if self.stop_training:
                break
        self._call("on_train_end", {})
        if checkpoint_path is not None and self._weights_restored:
            self.save_checkpoint(checkpoint_path)  # so a resumed, finished run has the restored weights too
        if self.run_dir is not None and val_loader is not None:
            if self._val_outputs is None:  # the weights changed after the last validation
                self._val_outputs = self._evaluate(val_loader, keep_predictions=True)[1]
            if is_main_process():
                write_confusion_matrix_plot(self, *self._val_outputs, class_names_of(val_loader, self.model))
        return self.history

    def weights_changed(self) -> None:
        """Tell the trainer the weights changed outside a step (e.g. best weights restored)."""
        self._val_outputs = None
        self._weights_restored = True

    # ----------------------------------------------------------------- one epoch
    def _run_epoch(self, train_loader, val_loader, epoch: int, epochs: int) -> dict:
        start = time.perf_counter()
        set_epoch = getattr(train_loader, "set_epoch", None)
        if callable(set_epoch):  # a loader that draws its shuffle from (seed, epoch): resumes exactly
            set_epoch(epoch)
        self.model.train()
        try:
            total_steps = len(train_loader)
        except TypeError:
            total_steps = None
        bar = EpochProgress(epoch + 1, epochs, total_steps, self.verbose and bars_wanted(self.progress))
        running = RunningMetrics(self.metrics)
        mean_loss = getattr(self.loss, "reduction", "mean") == "mean"
        pending_batches = pending_weight = 0
        try:
            for index, batch in enumerate(train_loader):
                x, y = split_batch(batch)
                x = self._cast(x)
                self._call("on_batch_begin", index, {"size": len(x)})
                if pending_batches == 0:
                    self.model.zero_grad()
                    self.optimizer.zero_grad()
                weight = len(x) if (mean_loss and self.grad_accum_steps > 1) else 1
                # distributed: DDP syncs gradients only on the last micro-batch of a group (when the loader's length
                # says which one ends the epoch; without it, on every one)
                sync = pending_batches + 1 == self.grad_accum_steps or total_steps in (None, index + 1)
                with sync_context(self.model, sync):
                    out, value = self._forward_backward(x, y, weight, epoch, index)
                pending_batches, pending_weight = pending_batches + 1, pending_weight + weight
                if pending_batches == self.grad_accum_steps:
                    self._optimizer_step(pending_weight)
                    pending_batches = pending_weight = 0
                update_running(running, self.model, out, y, value)  # distributed: a Pipeline's from its last stage
                bar.update(running.count / (time.perf_counter() - start), running.loss, running.get("accuracy"))
                self._call("on_batch_end", index, {"size": len(x), "loss": value})
            if pending_batches:  # an incomplete accumulation group at the end of the epoch
                self._optimizer_step(pending_weight)
        finally:
            bar.close()
        reduce_running(running, self.model)  # distributed: the epoch's metrics over all ranks
        if running.count == 0:
            raise ValueError("Trainer.fit: the training loader yielded no batches")
        train_time = time.perf_counter() - start
        record = {"epoch": epoch + 1, **running.results()}
        if val_loader is not None:
            results, self._val_outputs = self._evaluate(val_loader, keep_predictions=True)
            record.update({f"val_{key}": value for key, value in results.items()})
        record["lr"] = self._last_lr
        self._step_scheduler_epoch(record)
        record["time"] = time.perf_counter() - start
        record["images_per_s"] = running.count / train_time
        return record

    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)
