"""DistributedSampler: each rank's share of a dataset's indices, PyTorch's rules.

Each epoch, the indices 0 .. n-1 (shuffled with ``default_rng([seed, epoch])`` when ``shuffle``) are
padded by repeating their start until they divide into ``num_replicas`` equal shares (or, with
``drop_last``, cut to the largest multiple), and rank r takes every ``num_replicas``-th index from
position r. So over all ranks each example is seen exactly once per epoch (plus the few repeated
to pad), every rank sees the same number of examples, and every rank computes the same permutation
without talking to the others. ``set_epoch(epoch)`` before each epoch changes the shuffle.

    sampler = data.DistributedSampler(train_set)             # rank and world size from strided.distributed
    loader = data.DataLoader(train_set, 64, sampler=sampler)  # set_epoch is called by the loader
"""

import math

import numpy as np

from ..functional.args import positive_int

__all__ = ["DistributedSampler"]


def _check_int(name, value, minimum):
    return positive_int(value, name, "DistributedSampler", minimum)


class DistributedSampler:
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas`` (default: this process's rank and world)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        from .. import distributed

        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: expected a dataset with a length, got {type(dataset).__name__}")
        self.num_replicas = _check_int("num_replicas", distributed.get_world_size() if num_replicas is None
                                       else num_replicas, 1)
        self.rank = _check_int("rank", distributed.get_rank() if rank is None else rank, 0)
        if self.rank >= self.num_replicas:
            raise ValueError(f"DistributedSampler: rank must be below num_replicas={self.num_replicas}, "
                             f"got {self.rank}")
        self.dataset, self.shuffle, self.drop_last = dataset, bool(shuffle), bool(drop_last)
        self.seed = _check_int("seed", seed, 0)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch ``epoch``'s shuffle (call it before each epoch)."""
        self.epoch = _check_int("epoch", epoch, 0)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch (int64)."""
        n = len(self.dataset)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:  # pad by repeating the start (several times if the dataset is tiny)
            order = np.resize(order, self.total_size)
        else:
            order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler({len(self.dataset)} samples, rank {self.rank} of {self.num_replicas}, "
                f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})")
