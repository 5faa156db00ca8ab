"""What the Trainer does differently under ``mpiexec -n N`` (each rank runs the same Trainer).

- Only rank 0 writes: checkpoints, metrics.jsonl, plots, model files, progress and summary lines.
- Metrics are reduced over the ranks: each rank's sample-weighted sums and counts are added up, so
  ``loss``, ``accuracy`` and their ``val_`` twins are those of the whole (sharded) data set, equal on
  every rank (so EarlyStopping and ReduceLROnPlateau decide the same everywhere).
- Checkpoints hold every rank's random generator state (dropout masks differ between ranks), and a
  resumed rank takes back its own.

In a world of one process every function here is the identity.
"""

import numpy as np

from .. import distributed as dist
from ..rng import get_rng_state, set_rng_state


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): the one process that writes and prints."""
    return dist.get_rank() == 0


def unwrap(model):
    """The model inside a DistributedDataParallel (what model files store), else the model."""
    return getattr(model, "module", model) if isinstance(model, dist.DistributedDataParallel) else model


def reduce_running(running) -> None:
    """Add up every rank's RunningMetrics sums and counts, in place (float64, one allreduce)."""
    if dist.get_world_size() == 1:
        return
    names = list(running.sums)
    packed = np.array([running.sums[name] for name in names] + [running.count], dtype=np.float64)
    dist.all_reduce(packed)
    running.sums = dict(zip(names, packed[:-1].tolist(), strict=True))
    running.count = int(packed[-1])


def gather_predictions(kept):
    """(predictions, targets) of all ranks, concatenated in rank order."""
    if dist.get_world_size() == 1:
        return kept
    parts = [part for part in dist.all_gather_object(kept) if part is not None]
    if not parts:
        return None
    return np.concatenate([p for p, _ in parts]), np.concatenate([t for _, t in parts])


def all_rng_states() -> list | None:
    """Every rank's generator state, in rank order (None in a world of one)."""
    return None if dist.get_world_size() == 1 else dist.all_gather_object(get_rng_state())


def restore_own_rng_state(states) -> None:
    """Take this rank's state back from a checkpoint written by the same number of ranks."""
    if states and len(states) == dist.get_world_size():
        set_rng_state(states[dist.get_rank()])
