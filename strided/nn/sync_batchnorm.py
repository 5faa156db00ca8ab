"""SyncBatchNorm: batch normalisation whose statistics are those of the global batch over all ranks.

Under data parallelism each rank sees b of the B = N * b samples. Plain BatchNorm2d would normalise
with each rank's own statistics (and so differ from one process on the whole batch); SyncBatchNorm
takes the per-channel sums over all ranks, with n = the global count of values per channel:

    mean = allreduce(sum x) / n
    var  = allreduce(sum (x - mean)^2) / n        (two passes, as BatchNorm2d: accurate when |mean| >> std)
    x_hat = (x - mean) / sqrt(var + eps),   y = weight * x_hat + bias

Backward, with g_hat = grad * weight, and the two per-channel sums reduced in ONE allreduce:

    dx = inv_std * (g_hat - allreduce(sum g_hat) / n - x_hat * allreduce(sum g_hat * x_hat) / n)
    dweight = sum(grad * x_hat), dbias = sum(grad)       (local: DistributedDataParallel averages them)

On one rank, or in evaluation mode, it is exactly BatchNorm2d. The running statistics use the global
mean and unbiased variance (n / (n - 1)), so they are equal on every rank and to one process's.
"""

import numpy as np

from ..distributed import process_group as pg
from ..functional.reference.norm import update_running_stats
from .container import Sequential
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d, _BatchNorm

__all__ = ["SyncBatchNorm"]


def _per_channel(a: np.ndarray) -> np.ndarray:
    """a (N, C, *) as (N, C, L), a view."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def _spread(values: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Per-channel values (C,) shaped to broadcast against (N, C, *)."""
    return values.astype(like.dtype, copy=False).reshape((1, -1) + (1,) * (like.ndim - 2))


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) input with statistics over the global batch of all ranks.

    Same arguments, buffers and state dict as BatchNorm2d (PyTorch's SyncBatchNorm's, without
    ``process_group``: the group is the whole world). See the module docstring for the formulas.
    """

    _layouts = {2: "(N, {c})", 3: "(N, {c}, L)", 4: "(N, {c}, H, W)", 5: "(N, {c}, D, H, W)"}

    def forward(self, x):
        if not self.training or pg.get_world_size() == 1:
            return super().forward(x)
        self._check(x)
        # The C sums and the count travel together in float64 (a float32 count is exact only to 2**24).
        sums = np.einsum("ncl->c", _per_channel(x))
        packed = np.concatenate([sums.astype(np.float64), [x.size // x.shape[1]]])
        pg.all_reduce(packed)
        n = int(packed[-1])
        if n <= 1:
            raise ValueError(f"{self.label()}: expected more than 1 value per channel over all ranks when "
                             f"training, got {n}")
        mean = (packed[:-1] / n).astype(x.dtype)
        centred = x - _spread(mean, x)
        squares = np.einsum("ncl,ncl->c", _per_channel(centred), _per_channel(centred))
        pg.all_reduce(squares)
        var = squares / n
        inv_std = 1.0 / np.sqrt(var + self.eps)
        scale = inv_std if self.weight is None else inv_std * self.weight.data
        y = centred * _spread(scale, x)
        if self.bias is not None:
            y += _spread(self.bias.data, x)
        if self.track_running_stats:  # as BatchNorm2d: the count first, then the in-place running update
            self.num_batches_tracked += 1
            momentum = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
            update_running_stats(self.running_mean, self.running_var, mean, var, n, momentum)
        self.save_for_backward(centred, inv_std, n)
        return y

    def backward(self, grad_out):
        if not self.training or pg.get_world_size() == 1:
            return super().backward(grad_out)
        centred, inv_std, n = self.saved_for_backward()
        if grad_out.shape != centred.shape:
            raise ValueError(f"{self.label()}: expected a gradient of shape {centred.shape}, got {grad_out.shape}")
        x_hat = centred * _spread(inv_std, centred)
        g = _per_channel(grad_out)
        dbias = np.einsum("ncl->c", g)
        dweight = np.einsum("ncl,ncl->c", g, _per_channel(x_hat))
        weight = np.ones_like(inv_std) if self.weight is None else self.weight.data
        # sum(g_hat) = weight * dbias and sum(g_hat * x_hat) = weight * dweight: one allreduce for both.
        both = np.concatenate([weight * dbias, weight * dweight])
        pg.all_reduce(both)
        channels = len(inv_std)
        mean_g_hat, mean_g_hat_x_hat = both[:channels] / n, both[channels:] / n
        g_hat = grad_out * _spread(weight, grad_out)
        dx = g_hat - _spread(mean_g_hat, x_hat) - x_hat * _spread(mean_g_hat_x_hat, x_hat)
        dx *= _spread(inv_std, dx)
        if self.affine:
            self.weight.accumulate_grad(dweight)
        if self.bias is not None:
            self.bias.accumulate_grad(dbias)
        return dx

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every BatchNorm1d/2d inside ``module`` by a SyncBatchNorm with its weights and statistics.

        As PyTorch: returns the converted module (``module`` itself when it contains the batch norms, a new
        SyncBatchNorm when it is one). ``process_group`` must be None (the world).
        """
        if process_group is not None:
            raise ValueError("SyncBatchNorm.convert_sync_batchnorm: only the world group (None) exists")
        if isinstance(module, (BatchNorm1d, BatchNorm2d)):
            return _converted(module)
        for parent in list(module.modules()):
            for name, child in list(parent._modules.items()):
                if isinstance(child, (BatchNorm1d, BatchNorm2d)):
                    replacement = _converted(child)
                    setattr(parent, name, replacement)
                    _replace_in_graph_nodes(parent, child, replacement)
        return module


def _converted(bn: _BatchNorm) -> "SyncBatchNorm":
    dtype = (bn.weight.data if bn.affine else bn.running_mean).dtype if (bn.affine or bn.track_running_stats) \
        else np.float32
    sync = SyncBatchNorm(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats,
                         dtype=dtype.name, bias=bn.bias is not None)
    sync.load_state_dict(bn.state_dict())
    sync.train(bn.training)
    return sync


def _replace_in_graph_nodes(parent: Module, old: Module, new: Module) -> None:
    """A Graph keeps its nodes' modules in its node list too: point those at the replacement."""
    nodes = getattr(parent, "_nodes", None)
    if isinstance(nodes, list) and not isinstance(parent, Sequential):
        for index, node in enumerate(nodes):
            if getattr(node, "module", None) is old:
                nodes[index] = node._replace(module=new)
