"""Pipeline model parallelism: a chain of layers cut into N stages, one per rank, fed micro-batches.

Rank s holds stage s (contiguous layers of a Sequential, or of a Graph whose nodes form a chain).
Activations travel forward (rank s -> s + 1) and their gradients backward (s + 1 -> s) as MPI
point-to-point messages. A batch of B is cut into M micro-batches, so stage s can work on micro-batch
m + 1 while stage s + 1 works on m. Two schedules:

    GPipe (Huang et al., 2019): all M forwards, then all M backwards. Every stage idles while the
        pipeline fills and drains: the bubble is (N - 1) / (M + N - 1) of the step, for equal stages.
    1F1B (PipeDream-Flush): after N - 1 - s warm-up forwards, stage s alternates one forward and one
        backward. Same bubble, but at most N - s micro-batches wait for their backward, not M.

Exactness: micro-batch m's loss gradient is scaled by b_m / B, so the accumulated parameter gradients
are those of the mean loss over the whole batch, as one process computes them (to rounding). Each
layer keeps the context of ONE forward for its backward; the pipeline keeps one per micro-batch in
flight (it swaps the layers' saved contexts in and out) instead of recomputing the forward.
Batch-norm statistics are per micro-batch, as in every pipeline (use it with layers that are not).

The whole model. Every rank builds the whole model before it is cut, and the Pipeline keeps it (not as
a submodule: ``parameters()`` and ``state_dict()`` are this stage's). ``full_state_dict()`` gathers the
stages' states into it on rank 0, under the whole model's own names, for model files and checkpoints;
``load_full_state_dict()`` gives each stage its part back (``--resume``).
"""

import time

import numpy as np

from ..nn.container import Sequential
from ..nn.module import Module
from . import process_group as pg

__all__ = ["Pipeline"]

HEADER = 8  # int64 values: dtype code, ndim, shape (up to 6 axes)
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
BACKWARD_TAG = 1 << 20
SCHEDULES = ("gpipe", "1f1b")


def chain_of(model: Module) -> list:
    """The modules of a Sequential, or of a Graph whose every node reads the one before it."""
    if isinstance(model, Sequential):
        return list(model)
    nodes = getattr(model, "nodes", None)
    if nodes is not None:
        previous = model.input_names
        for node in nodes:
            if tuple(node.inputs) != tuple(previous):
                raise ValueError(f"Pipeline: the Graph's node {node.name!r} reads {node.inputs}, not the node "
                                 f"before it {previous}: only a chain of blocks can be cut into stages")
            previous = (node.name,)
        return [node.module for node in nodes]
    raise TypeError(f"Pipeline: expected a Sequential or a Graph that is a chain, got {type(model).__name__}")


def split_evenly(count: int, parts: int) -> list:
    """Sizes of ``parts`` contiguous pieces of ``count`` items, as equal as possible (larger first)."""
    return [count // parts + (i < count % parts) for i in range(parts)]


class Pipeline(Module):
    """Stage ``get_rank()`` of ``model`` cut into ``stages`` (= the world size) contiguous stages.

    ``balance``: how many layers each stage takes (default: as equal as possible). ``step(x, target,
    loss)`` runs one forward and backward of the batch in ``micro_batches`` pieces and leaves this
    stage's parameter gradients in ``parameters()``; every rank calls it with the same arguments (only
    the first stage reads x, only the last the targets). ``forward(x)`` is inference: the output on the
    last stage, None on the others. ``st.train.Trainer(pipeline, ...)`` trains it like the model
    (see strided/train/distributed.py).
    """

    def __init__(self, model: Module, stages: int | None = None, micro_batches: int = 1, balance=None,
                 schedule: str = "gpipe"):
        super().__init__()
        pg.init_process_group()
        world = pg.get_world_size()
        stages = world if stages is None else stages
        if stages != world:
            raise ValueError(f"Pipeline: stages must equal the number of ranks ({world}), got {stages}")
        if not isinstance(micro_batches, int) or micro_batches < 1:
            raise ValueError(f"Pipeline: micro_batches must be a positive integer, got {micro_batches!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"Pipeline: schedule must be one of {SCHEDULES}, got {schedule!r}")
        layers = chain_of(model)
        balance = split_evenly(len(layers), stages) if balance is None else list(balance)
        if len(balance) != stages or sum(balance) != len(layers) or min(balance) < 1:
            raise ValueError(f"Pipeline: balance must give each of the {stages} stages at least one of the "
                             f"{len(layers)} layers, got {balance}")
        rank = pg.get_rank()
        start = sum(balance[:rank])
        self.stage = Sequential(*layers[start:start + balance[rank]])
        object.__setattr__(self, "whole", model)  # not registered: parameters() are this stage's only
        own = {id(layer) for layer in self.stage}
        # The whole model's names of this stage's layers ('3' in a Sequential, the node's name in a Graph).
        self.stage_names = [name for name, child in model.named_children() if id(child) in own]
        self.last_output = None
        self.rank, self.stages, self.micro_batches = rank, stages, micro_batches
        self.balance, self.schedule = balance, schedule
        self.last_timing = None

    @property
    def is_first(self) -> bool:
        return self.rank == 0

    @property
    def is_last(self) -> bool:
        return self.rank == self.stages - 1

    # ----------------------------------------------------------------- messages
    def _send(self, array, to: int, tag: int, pending: list) -> None:
        array = np.ascontiguousarray(array)
        header = np.zeros(HEADER, np.int64)
        header[0], header[1] = DTYPES.index(array.dtype), array.ndim
        header[2:2 + array.ndim] = array.shape
        pending += [pg._world.comm.Isend(header, dest=to, tag=tag), pg._world.comm.Isend(array, dest=to, tag=tag)]
        pending.append(array)  # kept alive until the sends complete

    def _receive(self, source: int, tag: int) -> np.ndarray:
        header = np.empty(HEADER, np.int64)
        pg.wait(pg._world.comm.Irecv(header, source=source, tag=tag), "Pipeline receive")
        array = np.empty(tuple(header[2:2 + header[1]]), DTYPES[header[0]])
        pg.wait(pg._world.comm.Irecv(array, source=source, tag=tag), "Pipeline receive")
        return array

    # ----------------------------------------------------------------- contexts of micro-batches in flight
    def _take_contexts(self) -> list:
        contexts = [module._saved for module in self.stage.modules()]
        for module in self.stage.modules():
            object.__setattr__(module, "_saved", None)
        return contexts

    def _put_contexts(self, contexts: list) -> None:
        for module, saved in zip(self.stage.modules(), contexts, strict=True):
            object.__setattr__(module, "_saved", saved)

    # ----------------------------------------------------------------- the schedule
    def order(self) -> list:
        """This stage's sequence of ('F', m) and ('B', m) operations for the chosen schedule."""
        m = self.micro_batches
        if self.schedule == "gpipe":
            return [("F", i) for i in range(m)] + [("B", i) for i in range(m)]
        warmup = min(self.stages - 1 - self.rank, m)
        ops = [("F", i) for i in range(warmup)]
        for i in range(m - warmup):
            ops += [("F", warmup + i), ("B", i)]
        return ops + [("B", i) for i in range(m - warmup, m)]

    def step(self, x, target, loss, grad_scale: float = 1.0) -> float | None:
        """Forward and backward of one batch; returns the mean loss on the last stage (None elsewhere).

        The loss gradient is multiplied by ``grad_scale`` (the Trainer's gradient accumulation weight).
        ``self.last_output`` then holds the batch's output on the last stage (None elsewhere), and
        ``self.last_timing`` this rank's wall time of the step and the part spent computing.
        """
        if self.stages == 1:
            out = self.stage(x)
            value = float(loss(out, target))
            self.stage.backward(loss.backward() * grad_scale)
            self.last_output = out
            return value
        pg.barrier()
        start = time.perf_counter()
        busy = 0.0
        pieces_x = np.array_split(np.arange(len(x)), self.micro_batches) if self.is_first else None
        pieces_t = np.array_split(np.arange(len(target)), self.micro_batches) if self.is_last else None
        total = len(target) if self.is_last else None
        contexts, grads, pending, value, outputs = {}, {}, [], 0.0, []
        for kind, m in self.order():
            if kind == "F":
                inp = x[pieces_x[m]] if self.is_first else self._receive(self.rank - 1, m)
                began = time.perf_counter()
                out = self.stage(inp)
                if self.is_last:
                    share = len(pieces_t[m]) / total
                    value += float(loss(out, target[pieces_t[m]])) * share
                    grads[m] = loss.backward() * (share * grad_scale)
                    outputs.append(out)
                busy += time.perf_counter() - began
                contexts[m] = self._take_contexts()
                if not self.is_last:
                    self._send(out, self.rank + 1, m, pending)
            else:
                grad = grads.pop(m) if self.is_last else self._receive(self.rank + 1, BACKWARD_TAG + m)
                self._put_contexts(contexts.pop(m))
                began = time.perf_counter()
                grad_in = self.stage.backward(grad)
                busy += time.perf_counter() - began
                if not self.is_first:
                    self._send(grad_in, self.rank - 1, BACKWARD_TAG + m, pending)
        for request in pending:
            if not isinstance(request, np.ndarray):
                pg.wait(request, "Pipeline send")
        self.last_timing = {"total": time.perf_counter() - start, "busy": busy}
        self.last_output = np.concatenate(outputs) if self.is_last else None
        return value if self.is_last else None

    def forward(self, x):
        """Inference through all stages in micro-batches: the output on the last stage, None elsewhere."""
        if self.stages == 1:
            return self.stage(x)
        pieces = np.array_split(np.arange(len(x)), self.micro_batches) if self.is_first else None
        outputs, pending = [], []
        for m in range(self.micro_batches):
            inp = x[pieces[m]] if self.is_first else self._receive(self.rank - 1, m)
            out = self.stage(inp)
            if self.is_last:
                outputs.append(out)
            else:
                self._send(out, self.rank + 1, m, pending)
        for request in pending:
            if not isinstance(request, np.ndarray):
                pg.wait(request, "Pipeline send")
        return np.concatenate(outputs) if self.is_last else None

    # ----------------------------------------------------------------- the whole model's state
    def _child(self, name: str) -> Module:
        return dict(self.whole.named_children())[name]

    def _own_state(self) -> dict:
        return {f"{name}.{key}": value for name in self.stage_names
                for key, value in self._child(name).state_dict().items()}

    def full_state_dict(self):
        """The whole model's state_dict on rank 0 (None elsewhere): a collective, every rank calls it."""
        parts = pg.gather_object(self._own_state() if self.rank else {})
        if parts is None:
            return None
        others = {key: value for part in parts for key, value in part.items()}
        self.whole.load_state_dict(others, strict=False)  # rank 0's own stage is already there
        return self.whole.state_dict()

    def full_model(self):
        """The whole model with every stage's trained weights, on rank 0 (None elsewhere): a collective."""
        return None if self.full_state_dict() is None else self.whole

    def load_full_state_dict(self, state) -> None:
        """Take this stage's part of a whole-model state_dict (e.g. from a checkpoint)."""
        for name in self.stage_names:
            prefix = f"{name}."
            self._child(name).load_state_dict({key[len(prefix):]: value for key, value in state.items()
                                                       if key.startswith(prefix)})

    def backward(self, grad_out):
        raise RuntimeError("Pipeline: use step(x, target, loss), which runs forward and backward by micro-batch")

    def label(self) -> str:
        return f"Pipeline(stage {self.rank} of {self.stages})"

    def extra_repr(self) -> str:
        return f"stages={self.stages}, micro_batches={self.micro_batches}, balance={self.balance}, " \
               f"schedule={self.schedule!r}"
