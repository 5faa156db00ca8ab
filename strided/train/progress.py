"""What the user sees while training: a bar per epoch, then a one-line summary, and the History.

The bar (tqdm, on stderr) shows steps done, the time left, images per second and the running loss
and accuracy; it disappears when the epoch ends and a Keras-like summary line takes its place:

    Epoch 3/10 - 12s - loss: 0.3123 - accuracy: 0.8891 - val_loss: 0.3301 - val_accuracy: 0.8790 - lr: 0.1 - 4210 img/s

Bars are drawn only on a terminal (``progress='auto'``); summaries are printed unless ``verbose=0``.
"""

import sys

__all__ = ["EpochProgress", "History", "format_summary"]

# Fields of an epoch record shown specially (or not at all) in the summary line.
_SUMMARY_SKIP = ("epoch", "time", "images_per_s", "lr")


class History(list):
    """The training history: a list with one dict per epoch (JSON-ready), in order.

    Each record holds ``epoch`` (1-based), ``loss``, the metrics (``accuracy`` ...), their
    ``val_`` twins when there is a validation loader, ``lr`` (the learning rate of the first
    parameter group used in the epoch's last step), ``time`` (seconds) and ``images_per_s``.
    ``history.history`` gives the same values as a dict of lists, like Keras' ``History.history``.
    """

    @property
    def history(self) -> dict:
        keys = []
        for record in self:
            keys.extend(key for key in record if key not in keys)
        return {key: [record.get(key) for record in self] for key in keys}

    @property
    def epochs(self) -> list:
        return [record["epoch"] for record in self]


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.4g}"
    return str(value)


def format_summary(record: dict, epochs: int) -> str:
    """The one-line summary of an epoch record (see the module docstring)."""
    parts = [f"Epoch {record['epoch']}/{epochs}"]
    if "time" in record:
        parts.append(f"{record['time']:.0f}s" if record["time"] >= 10 else f"{record['time']:.1f}s")
    parts += [f"{key}: {_format_value(value)}" for key, value in record.items() if key not in _SUMMARY_SKIP]
    if "lr" in record:
        parts.append(f"lr: {record['lr']:.4g}")
    if record.get("images_per_s"):
        parts.append(f"{record['images_per_s']:.0f} img/s")
    return " - ".join(parts)


def bars_wanted(progress) -> bool:
    """``progress``: True, False or 'auto' (bars when both stdout and stderr are terminals)."""
    if progress == "auto":
        return all(getattr(stream, "isatty", lambda: False)() for stream in (sys.stdout, sys.stderr))
    if not isinstance(progress, bool):
        raise ValueError(f"Trainer: progress must be True, False or 'auto', got {progress!r}")
    return progress


class EpochProgress:
    """One epoch's bar. ``update(images, loss, accuracy)`` after each batch; ``close()`` at the end.

    Without tqdm installed, or when bars are off, it only keeps count.
    """

    def __init__(self, epoch: int, epochs: int, total_steps: int | None, enabled: bool):
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm is in the 'train' extra; without it, summaries only
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(
                    total=total_steps, desc=f"Epoch {epoch}/{epochs}", unit="step", leave=False, file=sys.stderr,
                    dynamic_ncols=True, mininterval=0.2,
                    bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
                )

    def update(self, images_per_s: float, loss: float, accuracy: float | None) -> None:
        if self.bar is None:
            return
        text = f"{images_per_s:.0f} img/s, loss {loss:.4f}"
        if accuracy is not None:
            text += f", accuracy {accuracy:.4f}"
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
