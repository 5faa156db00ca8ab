"""Evaluation and prediction of the Trainer: eval mode, no gradients, inputs cast to the model's dtype (mixed
into Trainer)."""

import contextlib

import numpy as np

from ..grad_mode import no_grad
from .distributed import gather_predictions, last_stage_output, reduce_running, update_running
from .run_dir import class_names_of
from .running import RunningMetrics

__all__ = ["InferenceMixin", "split_batch"]


def split_batch(batch):
    """A loader yields (x, y) pairs (or lists); anything else is a bad loader."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise ValueError(f"Trainer: expected the loader to yield (inputs, targets) pairs, got {type(batch).__name__}")


class InferenceMixin:
    """``evaluate`` and ``predict``, and the eval-mode context and input cast the training loop shares."""

    def evaluate(self, loader, report=False, class_names=None) -> dict:
        """Loss and metrics over ``loader``, in eval mode under ``st.no_grad()``: ``{'loss': ..., 'accuracy': ...}``.

        ``report=True`` adds ``'confusion_matrix'`` (an int64 array) and ``'report'`` (per-class
        precision, recall, F1 and support: see ``metrics.classification_report``).
        """
        results, kept = self._evaluate(loader, keep_predictions=report)
        if report:
            from .metrics import classification_report, confusion_matrix

            predictions, targets = kept
            names = class_names or self.class_names or class_names_of(loader, self.model)
            count = len(names) if names else None
            results["confusion_matrix"] = confusion_matrix(targets, predictions, num_classes=count)
            results["report"] = classification_report(targets, predictions, class_names=names,
                                                      num_classes=len(results["confusion_matrix"]))
        return results

    def predict(self, data, batch_size=256, probabilities=False) -> np.ndarray:
        """The model's outputs (logits, for a classifier) for a batch array or a loader, in eval mode.

        ``data``: an array (N, ...) run in slices of ``batch_size``, or a loader yielding arrays or
        (x, y) pairs. ``probabilities=True`` applies a softmax over the last axis.
        """
        if isinstance(data, np.ndarray):
            batches = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
        else:
            batches = (b[0] if isinstance(b, (tuple, list)) else b for b in data)
        outputs = []
        with self._inference():
            for x in batches:
                outputs.append(self.model(self._cast(x)))
        if not outputs:
            raise ValueError("Trainer.predict: no data")
        out = last_stage_output(self.model, outputs)  # distributed: a Pipeline's outputs are on its last stage
        if probabilities:
            shifted = np.exp(out - out.max(axis=-1, keepdims=True))
            out = shifted / shifted.sum(axis=-1, keepdims=True)
        return out

    def _evaluate(self, loader, keep_predictions=False):
        running = RunningMetrics(self.metrics)
        predictions, targets = [], []
        with self._inference():
            for batch in loader:
                x, y = split_batch(batch)
                out = self.model(self._cast(x))  # distributed: None on a Pipeline's other stages
                update_running(running, self.model, out, y, None if out is None else float(self.loss(out, y)))
                if keep_predictions and out is not None:
                    predictions.append(np.argmax(out, axis=1))
                    targets.append(np.argmax(y, axis=1) if np.ndim(y) == 2 else np.asarray(y))
        reduce_running(running, self.model)  # distributed: validation over every rank's share
        if running.count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        kept = (np.concatenate(predictions), np.concatenate(targets)) if keep_predictions and predictions else None
        return running.results(), gather_predictions(kept) if keep_predictions else None

    @contextlib.contextmanager
    def _inference(self):
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                yield
        finally:
            self.model.train(was_training)

    def _cast(self, x):
        x = np.asarray(x)
        param = next(iter(self.model.parameters()), None)
        if param is not None and np.issubdtype(x.dtype, np.floating) and x.dtype != param.dtype:
            x = x.astype(param.dtype)
        return x
