"""DistributedDataParallel: the same model on every rank, each on its share of the batch.

One training step on N ranks, each holding an equal share b = B / N of a global batch B:

    forward(x_r) -> loss_r (mean over b) -> backward -> grads g_r -> allreduce: g = (1/N) sum_r g_r -> step

(1/N) sum_r of per-rank means over b samples is the mean over all B samples, so every rank ends the
step with the gradient one process would compute on the whole batch (to rounding: only the order of
the additions differs), and, starting from rank 0's parameters, with the same parameters.

Buckets. Gradients are not sent one tensor per call: parameters are grouped, in reverse order of
registration (the order backward produces them), into flat buckets of about ``bucket_cap_mb`` per
dtype; each bucket is one in-place ``Iallreduce``. Overlap: each layer's backward is wrapped, so as
soon as the layers that fill a bucket are done, its gradients are copied in and its allreduce starts
while the backward of earlier layers goes on; the requests are polled between layers (MPICH moves a
non-blocking collective forward only inside MPI calls). ``no_sync()`` skips the allreduce, so that
gradients accumulate locally over several backwards, as in PyTorch.

Assumes, like PyTorch's default, that each module runs once per forward (a module called twice would
add to a gradient already sent: that is detected and reported).
"""

import contextlib
import time

import numpy as np

from ..nn.module import Module
from . import process_group as pg

__all__ = ["DistributedDataParallel"]

MB = 1 << 20


class _Bucket:
    """A flat array holding the gradients of a group of parameters of one dtype, and its allreduce."""

    def __init__(self, params: list):
        self.params = params
        self.offsets = np.cumsum([0] + [p.size for p in params])
        self.flat = np.zeros(int(self.offsets[-1]), dtype=params[0].dtype)
        self.pending = {}  # id(param) -> how many of its modules' backwards are still to come this step
        self.request = None

    def views(self):
        for param, start, stop in zip(self.params, self.offsets[:-1], self.offsets[1:], strict=True):
            yield param, self.flat[start:stop].reshape(param.shape)

    def launch(self) -> None:
        """Copy the gradients in (zeros for a parameter without one) and start the allreduce."""
        for param, view in self.views():
            if param.grad is None:
                view.fill(0)
            else:
                view[...] = param.grad
        self.request = pg.all_reduce(self.flat, async_op=True)

    def finish(self, world_size: int) -> None:
        """Wait for the sum, turn it into the mean and hand it back to the parameters."""
        if self.request is not None:
            pg.wait(self.request, "DistributedDataParallel gradient allreduce")
        self.request = None
        self.flat /= world_size
        for param, view in self.views():
            if param.grad is None:
                param.grad = view.copy()
            else:
                param.grad[...] = view


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training; use it like the module (``ddp(x)``, ``ddp.backward(g)``).

    On construction rank 0's parameters and buffers are broadcast to every rank. ``backward`` leaves in
    every ``Parameter.grad`` the mean of the ranks' gradients. ``broadcast_buffers`` (PyTorch's default)
    copies rank 0's buffers (batch-norm running statistics) to all ranks before each training forward.
    ``overlap=False`` allreduces all buckets after the whole backward instead (for measuring).
    The process group is initialised if it is not yet.
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True,
                 overlap: bool = True):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a strided Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        pg.init_process_group()
        self.module = module
        self.bucket_cap_mb, self.broadcast_buffers, self.overlap = float(bucket_cap_mb), broadcast_buffers, overlap
        self.require_backward_grad_sync = True
        self.communication_seconds = 0.0  # time spent in bucket copies, allreduce calls and waits (for benchmarks)
        for param in module.parameters():
            if not param.data.flags.c_contiguous:
                param.data = np.array(param.data, order="C")
            pg.broadcast(param.data)
        self._sync_buffers()
        object.__setattr__(self, "_buckets", self._make_buckets())
        object.__setattr__(self, "_syncing", False)
        self._owner = {}  # id(param) -> its bucket
        self._reports = {}  # id(param) -> the number of modules that hold it (2 for a shared weight)
        for bucket in self._buckets:
            for param in bucket.params:
                self._owner[id(param)] = bucket
        if overlap:
            self._wrap_layer_backwards()

    # ----------------------------------------------------------------- set-up
    def _make_buckets(self) -> list:
        """Parameters in reverse registration order, per dtype, in buckets closed once they reach bucket_cap_mb."""
        cap = self.bucket_cap_mb * MB
        buckets, open_groups = [], {}
        for param in reversed(list(self.module.parameters())):
            group = open_groups.setdefault(param.dtype, [])
            group.append(param)
            if sum(p.data.nbytes for p in group) >= cap:
                buckets.append(_Bucket(group))
                open_groups[param.dtype] = []
        buckets.extend(_Bucket(group) for group in open_groups.values() if group)
        return buckets

    def _wrap_layer_backwards(self) -> None:
        """Make each module that owns parameters report, after its backward, that their gradients are done."""
        for module in self.module.modules():
            own = [p for p in module._parameters.values() if p is not None]
            if own:
                object.__setattr__(module, "backward", self._reporting_backward(module.backward, own))
            for param in own:
                self._reports[id(param)] = self._reports.get(id(param), 0) + 1

    def _reporting_backward(self, backward, params):
        def reporting_backward(*grads):
            result = backward(*grads)
            if self._syncing:
                self._grads_ready(params)
            return result

        return reporting_backward

    def _grads_ready(self, params) -> None:
        for param in params:
            bucket = self._owner[id(param)]
            if id(param) not in bucket.pending:
                raise RuntimeError("DistributedDataParallel: a module ran backward twice in one step (used twice in "
                                   "the forward?); its gradient was already sent: use overlap=False")
            bucket.pending[id(param)] -= 1
            if bucket.pending[id(param)] == 0:
                del bucket.pending[id(param)]
            if not bucket.pending:
                began = time.perf_counter()
                bucket.launch()
                self.communication_seconds += time.perf_counter() - began
        for bucket in self._buckets:  # let MPI move the started allreduces forward
            if bucket.request is not None:
                bucket.request.Test()

    def _sync_buffers(self) -> None:
        for module in self.module.modules():
            for name, buffer in module._buffers.items():
                if buffer is None:
                    continue
                # np.array, not np.ascontiguousarray: that one makes a 0-d num_batches_tracked 1-d.
                array = buffer if buffer.flags.c_contiguous else np.array(buffer, order="C")
                pg.broadcast(array)
                if array is not buffer:
                    setattr(module, name, array)

    # ----------------------------------------------------------------- forward, backward
    def forward(self, *inputs):
        if self.broadcast_buffers and self.training and pg.get_world_size() > 1:
            self._sync_buffers()
        return self.module(*inputs)

    def backward(self, *grads_out):
        sync = self.require_backward_grad_sync and pg.get_world_size() > 1
        if not sync:
            return self.module.backward(*grads_out)
        for bucket in self._buckets:
            bucket.pending = {id(p): self._reports.get(id(p), 1) for p in bucket.params}
            bucket.request = None
        object.__setattr__(self, "_syncing", self.overlap)
        try:
            grads_in = self.module.backward(*grads_out)
        finally:
            object.__setattr__(self, "_syncing", False)
        began = time.perf_counter()
        for bucket in self._buckets:
            if bucket.request is None:  # not overlapped, or some parameters got no gradient this step
                bucket.launch()
        for bucket in self._buckets:
            bucket.finish(pg.get_world_size())
        self.communication_seconds += time.perf_counter() - began
        return grads_in

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block backward only accumulates local gradients; the next backward outside syncs them."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ----------------------------------------------------------------- description
    def bucket_sizes(self) -> list:
        """The number of values in each bucket, in the order they are reduced."""
        return [int(b.flat.size) for b in self._buckets]

    def label(self) -> str:
        return f"DistributedDataParallel({self.module.label()})"

    def extra_repr(self) -> str:
        megabytes = sum(b.flat.nbytes for b in self._buckets) / MB
        return (f"world_size={pg.get_world_size()}, buckets={len(self._buckets)} "
                f"({megabytes:.2f} MB, cap {self.bucket_cap_mb:g} MB), overlap={self.overlap}")
