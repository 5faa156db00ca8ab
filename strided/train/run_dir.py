"""What the Trainer writes into its run folder besides metrics.jsonl: the curves and the confusion matrix."""

from .metrics import confusion_matrix


def class_names_of(loader, model):
    """Class names from the loader's dataset (``classes`` / ``class_names``), the model, or its metadata."""
    dataset = getattr(loader, "dataset", None)
    for source in (dataset, model):
        for attribute in ("classes", "class_names"):
            names = getattr(source, attribute, None)
            if names:
                return list(names)
    names = getattr(model, "metadata", {}).get("class_names")
    return list(names) if names else None


def write_history_plot(trainer) -> None:
    """``history.png``: loss and accuracy per epoch, train and validation."""
    from ..viz import plot_history

    plot_history(trainer.history, trainer.run_dir / "history.png")


def write_confusion_matrix_plot(trainer, predictions, targets, found_names=None) -> None:
    """``confusion_matrix.png`` of the last validation (class names: the trainer's, else those found)."""
    from ..viz import plot_confusion_matrix

    names = trainer.class_names or found_names
    cm = confusion_matrix(targets, predictions, num_classes=len(names) if names else None)
    names = names or [str(i) for i in range(len(cm))]
    plot_confusion_matrix(cm, names, trainer.run_dir / "confusion_matrix.png")
