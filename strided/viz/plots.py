"""Plots of training and of what a CNN has learned, written as PNG files.

matplotlib is imported only when a plot is drawn (the engine does not need it), and only its
object API is used (``matplotlib.figure.Figure`` rendered by the Agg canvas): no pyplot, so no
global backend is changed and no window ever opens. Each function writes one PNG (atomically, so a
viewer never sees half a file) and returns its path.
"""

import io
import math
from pathlib import Path

import numpy as np

__all__ = ["plot_confusion_matrix", "plot_feature_maps", "plot_filters", "plot_history", "plot_images",
           "plot_misclassified"]

DPI = 100
MAX_ANNOTATED_CLASSES = 30  # beyond this, numbers in the confusion matrix's cells become unreadable


def _figure(width: float, height: float):
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plots need matplotlib: pip install 'strided[train]'") from error
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _write(fig, path) -> Path:
    from ..io import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return atomic_write_bytes(path, buffer.getvalue())


def _history_columns(history) -> dict:
    """A History, a list of per-epoch dicts, or a dict of lists -> dict of lists."""
    if isinstance(history, dict):
        return {key: list(values) for key, values in history.items()}
    records = list(history)
    keys = []
    for record in records:
        keys.extend(key for key in record if key not in keys)
    return {key: [record.get(key) for record in records] for key in keys}


def plot_history(history, path) -> Path:
    """Training curves: loss and accuracy per epoch, train and validation (those present)."""
    columns = _history_columns(history)
    count = max((len(values) for values in columns.values()), default=0)
    if count == 0:
        raise ValueError("plot_history: the history is empty")
    epochs = columns.get("epoch") or list(range(1, count + 1))
    panels = [name for name in ("loss", "accuracy") if name in columns or f"val_{name}" in columns]
    fig = _figure(5.0 * max(len(panels), 1), 3.8)
    for i, name in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key, label, style in ((name, "train", "-o"), (f"val_{name}", "validation", "--s")):
            values = columns.get(key)
            if values and any(v is not None for v in values):
                ys = [np.nan if v is None else v for v in values]
                ax.plot(epochs, ys, style, markersize=4, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
        if count < 15:
            ax.set_xticks(epochs)
    return _write(fig, path)


def plot_confusion_matrix(cm, class_names, path, normalize=False, title="Confusion matrix") -> Path:
    """The confusion matrix (rows: true class, columns: predicted), counts written in the cells.

    ``normalize=True`` shows each row as fractions of its true class (recall on the diagonal).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"plot_confusion_matrix: expected a square matrix, got shape {cm.shape}")
    names = [str(name) for name in class_names]
    if len(names) != len(cm):
        raise ValueError(f"plot_confusion_matrix: {len(names)} class names for a {len(cm)}x{len(cm)} matrix")
    shown = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1) if normalize else cm
    size = min(4 + 0.45 * len(cm), 24)
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = np.arange(len(cm))
    ax.set_xticks(ticks, names, rotation=45 if max(map(len, names), default=0) > 3 else 0, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    total = cm.sum()
    accuracy = np.trace(cm) / total if total else 0.0
    ax.set_title(f"{title} (accuracy {accuracy:.2%})")
    if len(cm) <= MAX_ANNOTATED_CLASSES:
        threshold = shown.max() / 2 if shown.size else 0
        fontsize = 12 if len(cm) <= 5 else 9 if len(cm) <= 12 else 7
        for (i, j), value in np.ndenumerate(shown):
            text = f"{value:.2f}" if normalize else f"{value:d}"
            ax.text(j, i, text, ha="center", va="center", fontsize=fontsize,
                    color="white" if value > threshold else "black")
    return _write(fig, path)


def _unit_range(array) -> np.ndarray:
    """Scale to [0, 1] for display (a constant array becomes mid grey)."""
    array = np.asarray(array, dtype=np.float64)
    low, high = array.min(), array.max()
    return np.full_like(array, 0.5) if high == low else (array - low) / (high - low)


def _grid(count: int) -> tuple:
    columns = math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def _conv_layers(model) -> list:
    """(name, Conv2d) pairs in the model, in registration order; the model itself if it is one."""
    return [(name, m) for name, m in model.named_modules() if type(m).__name__ == "Conv2d"]


def plot_filters(model_or_layer, path, max_filters=64) -> Path:
    """The first conv layer's filters: RGB tiles when it sees 3 channels, else one grey tile per channel."""
    layers = _conv_layers(model_or_layer)
    if not layers:
        raise ValueError(f"plot_filters: no Conv2d layer in {type(model_or_layer).__name__}")
    name, conv = layers[0]
    weight = np.asarray(conv.weight.data)
    out_channels, in_channels = weight.shape[:2]
    if in_channels == 3:
        tiles = [(_unit_range(w).transpose(1, 2, 0), f"{o}") for o, w in enumerate(weight[:max_filters])]
    else:
        tiles = [(_unit_range(weight[o, c]), f"{o}" if in_channels == 1 else f"{o}.{c}")
                 for o in range(out_channels) for c in range(in_channels)][:max_filters]
    rows, columns = _grid(len(tiles))
    fig = _figure(max(1.1 * columns + 0.4, 4.5), 1.1 * rows + 0.7)
    fig.suptitle(f"Filters of {name or 'the conv layer'}: {conv.label()}\nweight {tuple(weight.shape)}", fontsize=10)
    for i, (tile, label) in enumerate(tiles):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(tile, cmap=None if tile.ndim == 3 else "gray", interpolation="nearest")
        ax.set_title(label, fontsize=7)
        ax.set_axis_off()
    return _write(fig, path)


def plot_feature_maps(model, image, path, max_maps=16) -> Path:
    """The output of every Conv2d for one image (C, H, W): a row per layer, up to ``max_maps`` channels each.

    The model runs in eval mode under ``st.no_grad()``; each conv layer's output is captured with
    ``st.nn.capture_outputs`` and the model's mode is restored afterwards.
    """
    from ..grad_mode import no_grad
    from ..nn.capture import capture_outputs

    image = np.asarray(image)
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] != 1:
        raise ValueError(f"plot_feature_maps: expected one image (C, H, W) or (1, C, H, W), got {image.shape}")
    param = next(iter(model.parameters()), None)
    if param is not None and image.dtype != param.dtype:
        image = image.astype(param.dtype)
    was_training = model.training
    model.eval()
    try:
        with no_grad(), capture_outputs(model) as records:
            model(image)
    finally:
        model.train(was_training)
    maps = [(r.name, r.output[0]) for r in records if type(r.module).__name__ == "Conv2d"]
    if not maps:
        raise ValueError(f"plot_feature_maps: no Conv2d layer ran in {type(model).__name__}")
    columns = min(max_maps, max(output.shape[0] for _, output in maps))
    fig = _figure(1.0 * columns + 1.6, 1.05 * len(maps) + 0.5)
    fig.suptitle("Feature maps of each conv layer")
    for row, (name, output) in enumerate(maps):
        for c in range(min(columns, output.shape[0])):
            ax = fig.add_subplot(len(maps), columns, row * columns + c + 1)
            ax.imshow(output[c], cmap="viridis", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(f"{name}\n{tuple(output.shape)}", fontsize=7, rotation=0, ha="right", va="center")
    return _write(fig, path)


def _displayable(image) -> tuple:
    """(array for imshow, colormap) from (C, H, W) or (H, W), scaled to [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    if image.ndim not in (2, 3):
        raise ValueError(f"plot_misclassified: expected images (C, H, W) or (H, W), got {image.shape}")
    return _unit_range(image), ("gray" if image.ndim == 2 else None)


def plot_misclassified(images, labels, predictions, class_names, path, max_images=25) -> Path:
    """A grid of the misclassified images, each titled with its true and predicted class.

    ``predictions``: class indices (N,) or scores (N, num_classes); with scores, each title also
    gives the predicted class's probability (softmax of the scores).
    """
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    confidence = None
    if predictions.ndim == 2:
        shifted = np.exp(predictions - predictions.max(axis=1, keepdims=True))
        confidence = (shifted / shifted.sum(axis=1, keepdims=True)).max(axis=1)
        predictions = predictions.argmax(axis=1)
    if not (len(images) == len(labels) == len(predictions)):
        raise ValueError(f"plot_misclassified: {len(images)} images, {len(labels)} labels, "
                         f"{len(predictions)} predictions: expected as many of each")
    names = [str(name) for name in class_names]
    wrong = np.flatnonzero(labels != predictions)[:max_images]
    if len(wrong) == 0:
        fig = _figure(4, 1.5)
        fig.text(0.5, 0.5, f"No misclassified examples among {len(labels)}", ha="center", va="center")
        return _write(fig, path)
    rows, columns = _grid(len(wrong))
    fig = _figure(1.7 * columns, 1.9 * rows + 0.4)
    fig.suptitle(f"Misclassified: {np.sum(labels != predictions)} of {len(labels)}")
    for i, index in enumerate(wrong):
        ax = fig.add_subplot(rows, columns, i + 1)
        array, cmap = _displayable(images[index])
        ax.imshow(array, cmap=cmap, interpolation="nearest")
        title = f"true: {names[labels[index]]}\npred: {names[predictions[index]]}"
        if confidence is not None:
            title += f" ({confidence[index]:.0%})"
        ax.set_title(title, fontsize=7)
        ax.set_axis_off()
    return _write(fig, path)


def plot_images(images, titles, path, columns=None, title=None) -> Path:
    """A grid of images (C, H, W) or (H, W), each under its title, on one fixed scale.

    uint8 images are shown as 0..255 and float images as 0..1 (clipped), NOT each stretched to its
    own range: a brighter or darker copy (an augmentation gallery, say) must look brighter or darker.
    """
    if len(images) != len(titles) or not len(images):
        raise ValueError(f"plot_images: expected as many titles as images (at least one), got {len(images)} "
                         f"images and {len(titles)} titles")
    columns = columns or _grid(len(images))[1]
    rows = math.ceil(len(images) / columns)
    fig = _figure(1.9 * columns, 2.0 * rows + (0.4 if title else 0))
    if title:
        fig.suptitle(title)
    for i, (image, name) in enumerate(zip(images, titles, strict=True)):
        image = np.asarray(image)
        shown = image / 255.0 if image.dtype == np.uint8 else np.clip(image.astype(np.float64), 0.0, 1.0)
        if shown.ndim == 3:
            shown = shown[0] if shown.shape[0] == 1 else shown.transpose(1, 2, 0)
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(str(name), fontsize=9)
        ax.axis("off")
    return _write(fig, path)
