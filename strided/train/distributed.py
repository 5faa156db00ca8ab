"""What the Trainer does differently under ``mpiexec -n N`` (each rank runs the same Trainer).

- Only rank 0 writes: checkpoints, metrics.jsonl, plots, model files, progress and summary lines.
- Metrics are reduced over the ranks: each rank's sample-weighted sums and counts are added up, so
  ``loss``, ``accuracy`` and their ``val_`` twins are those of the whole (sharded) data set, equal on
  every rank (so EarlyStopping and ReduceLROnPlateau decide the same everywhere).
- Checkpoints hold every rank's random generator state (dropout masks differ between ranks), and a
  resumed rank takes back its own.
- DistributedDataParallel with gradient accumulation: all but the last micro-batch of a group run under
  ``no_sync()``, so gradients cross the network once per optimizer step, not once per micro-batch.
- Pipeline (every rank a stage, every rank iterating the same loader): ``Pipeline.step`` replaces
  forward and backward; the loss and metrics exist on the last stage only and are broadcast from it
  after each batch, so every rank logs (and decides on) the same values; the norm for
  ``clip_grad_norm`` covers every stage's gradients; checkpoints and model files hold the whole model,
  gathered to rank 0, and a resumed stage takes its part and its own optimizer state back.

In a world of one process every function here is the identity.
"""

import contextlib

import numpy as np

from .. import distributed as dist
from ..rng import get_rng_state, set_rng_state
from .clip import EPS, clip_grad_norm_


def is_main_process() -> bool:
    """True on rank 0 (and when not distributed): the one process that writes and prints."""
    return dist.get_rank() == 0


def is_pipeline(model) -> bool:
    return isinstance(model, dist.Pipeline)


def unwrap(model):
    """What model files store: the model inside a DistributedDataParallel; a Pipeline's whole model with
    every stage's weights (a collective: every rank calls it; None except on rank 0); else the model."""
    if isinstance(model, dist.DistributedDataParallel):
        return model.module
    return model.full_model() if is_pipeline(model) else model


def sync_context(model, sync: bool):
    """``model.no_sync()`` for a DistributedDataParallel micro-batch that must not sync yet, else nothing."""
    if sync or not isinstance(model, dist.DistributedDataParallel):
        return contextlib.nullcontext()
    return model.no_sync()


def from_last_stage(model, values, count: int) -> list:
    """The last stage's ``count`` float values (``values`` there, ignored elsewhere) on every rank."""
    packed = np.array(values, np.float64) if model.is_last else np.zeros(count)
    dist.broadcast(packed, src=model.stages - 1)
    return packed.tolist()


def pipeline_step(model, x, y, loss, weight) -> tuple:
    """One Pipeline forward and backward: (output on the last stage or None, the loss on every rank)."""
    value = model.step(x, y, loss, grad_scale=weight)
    return model.last_output, from_last_stage(model, [value], 1)[0]


def update_running(running, model, out, y, value) -> None:
    """``running.update``; under a Pipeline with the last stage's batch values, on every rank."""
    if not is_pipeline(model):
        running.update(out, y, value)
        return
    names = list(running.sums)
    values = list(running.batch_values(out, y, value).values()) if model.is_last else None
    running.add(len(y), dict(zip(names, from_last_stage(model, values, len(names)), strict=True)))


def last_stage_output(model, outputs: list) -> np.ndarray:
    """The concatenated outputs; under a Pipeline the last stage's, sent to every rank."""
    if not is_pipeline(model) or model.stages == 1:
        return np.concatenate(outputs)
    return dist.broadcast_object(np.concatenate(outputs) if model.is_last else None, src=model.stages - 1)


def clip_gradients(model, max_norm: float) -> float:
    """``clip_grad_norm_(model.parameters(), max_norm)``; under a Pipeline the norm is that of every
    stage's gradients together: the per-tensor norms are gathered in stage order, as one process has them."""
    params = list(model.parameters())
    if not is_pipeline(model) or model.stages == 1:
        return clip_grad_norm_(params, max_norm)
    grads = [p.grad for p in params if p.grad is not None]
    dtype = np.result_type(*grads) if grads else np.dtype(np.float64)
    norms = [n for part in dist.all_gather_object([float(np.linalg.norm(g.reshape(-1))) for g in grads])
             for n in part]
    total = dtype.type(np.linalg.norm(np.array(norms, dtype=dtype))) if norms else dtype.type(0)
    coef = min(dtype.type(max_norm) / (total + dtype.type(EPS)), dtype.type(1.0))
    for g in grads:
        g *= coef
    return float(total)


def model_state(model):
    """The checkpoint's model: the bare module (so it resumes on any number of ranks); a Pipeline's whole
    model, gathered to rank 0 (None elsewhere)."""
    if is_pipeline(model):
        return model.full_state_dict()
    return dict(unwrap(model).state_dict())


def load_model_state(model, state) -> None:
    if is_pipeline(model):
        model.load_full_state_dict(state)
    else:
        unwrap(model).load_state_dict(state)


def optimizer_states(optimizer, model):
    """Under a Pipeline every stage's optimizer state, in rank order, on rank 0; else None."""
    return dist.gather_object(optimizer.state_dict()) if is_pipeline(model) else None


def own_optimizer_state(state: dict) -> dict:
    """This stage's optimizer state from a checkpoint written by a Pipeline of as many stages, else the one."""
    stages = state.get("optimizer_ranks")
    if not stages:
        return state["optimizer"]
    if len(stages) != dist.get_world_size():
        raise ValueError(f"Trainer checkpoint: written by a Pipeline of {len(stages)} stages, resumed on "
                         f"{dist.get_world_size()} ranks")
    return stages[dist.get_rank()]


def reduce_running(running, model=None) -> None:
    """Add up every rank's RunningMetrics sums and counts, in place (float64, one allreduce).

    Not under a Pipeline: there every rank already holds the same values (see update_running)."""
    if dist.get_world_size() == 1 or is_pipeline(model):
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
