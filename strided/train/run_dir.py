"""What the Trainer writes into its run folder besides metrics.jsonl: the curves and the confusion matrix.

And what it checks before the first step, so that a run never fails after an epoch's work for a
reason known at the start: the optional packages its files need, and leftovers of writes that a
kill interrupted (``.NAME.XXXXXXXX.tmp`` from strided.io.atomic), which are removed.
"""

import importlib.util
import re
import sys
from pathlib import Path

from .distributed import is_main_process
from .metrics import confusion_matrix

# atomic_write_bytes' temporary names: "." + the target's name + "." + mkstemp's 8 random characters + ".tmp"
TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")
# What a run writes into its folder (the Trainer, and `strided train` around it).
RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors", "history.png",
             "confusion_matrix.png")


def prepare_run(trainer, checkpoint_path) -> None:
    """Before the first step: the packages the run's files need are there; stale temporaries are gone."""
    needed = {"matplotlib": trainer.run_dir is not None, "safetensors": checkpoint_path is not None}
    missing = [name for name, wanted in needed.items() if wanted and not _importable(name)]
    if missing:
        raise ImportError(f"this run's plots and checkpoints need {', '.join(missing)}: "
                          "pip install 'strided[train]' (or train without run_dir / checkpoint_path)")
    if not is_main_process():  # distributed: the writer alone; another rank could delete a write in progress
        return
    if trainer.run_dir is not None:
        remove_stale_temporaries(trainer.run_dir)
    if checkpoint_path is not None:
        remove_stale_temporaries(Path(checkpoint_path).parent, (Path(checkpoint_path).name,))


def _importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked on purpose
    return importlib.util.find_spec(module) is not None


def remove_stale_temporaries(folder, targets=RUN_FILES) -> list:
    """Delete the temporary files that interrupted atomic writes of ``targets`` left in ``folder``.

    Only a run's own files: another program's temporaries in a shared folder are not ours to judge.
    Returns the names removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [path for path in folder.iterdir()
             if (match := TEMPORARY_NAME.match(path.name)) and match["target"] in targets and path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return [path.name for path in stale]


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
