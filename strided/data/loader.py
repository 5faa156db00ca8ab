"""DataLoader: batches of (float32 images (N, C, H, W), int64 labels), shuffled, augmented, prefetched.

Randomness. The loader owns its generators: epoch e shuffles with ``default_rng([seed, e, 0])`` and
batch b of epoch e is augmented with ``default_rng([seed, e, 1, b])``. A run is therefore repeatable
(``seed``, or strided's generator when seed is None, fixes everything), the batches are identical
whatever ``prefetch`` and ``num_workers`` are, and the background threads never touch strided's
global generator, which the training thread uses for dropout.

Prefetching. With ``prefetch`` > 0 a background thread (``num_workers`` threads if more) fetches,
augments and converts the next batches while the consumer trains on the current one; NumPy and
Pillow release the GIL in their heavy work, so the two overlap. At most ``prefetch`` batches wait
per thread. An exception in a thread is raised in the consumer with its message (and a note saying
which batch); abandoning the iteration (``break``, ``close()``, garbage collection) stops the threads.
"""

import math
import queue
import threading

import numpy as np

from .. import rng as strided_rng
from ..functional.args import positive_int
from .dataset import fetch_batch
from .transforms.base import apply_transform

POLL_S = 0.05
JOIN_TIMEOUT_S = 10.0
SEED_BOUND = 2**63


def to_float32(images: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1]; float -> float32."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255)
    return images.astype(np.float32, copy=False)


def _check_count(name, value, minimum):
    return positive_int(value, name, "DataLoader", minimum)


class DataLoader:
    """Iterate over ``dataset`` in batches; see the module docstring.

    ``transform`` is applied to each batch (after the dataset's own transform, if any), then images
    become float32 (uint8 scaled to [0, 1]) and labels int64. ``sampler``: an iterable of indices with a
    length (e.g. ``DistributedSampler``) that replaces ``shuffle``; its ``set_epoch`` is called each epoch.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 transform=None, prefetch: int = 2, num_workers: int = 0, seed: int | None = None, sampler=None):
        if not hasattr(dataset, "__len__"):
            raise ValueError(f"DataLoader: expected a dataset with a length, got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = _check_count("batch_size", batch_size, 1)
        self.prefetch = _check_count("prefetch", prefetch, 0)
        self.num_workers = _check_count("num_workers", num_workers, 0)
        if seed is None:
            seed = int(strided_rng.get_generator().integers(SEED_BOUND))
        self.seed = _check_count("seed", seed, 0)
        self.shuffle, self.drop_last, self.transform = bool(shuffle), bool(drop_last), transform
        self.epoch = 0
        # A sampler (e.g. DistributedSampler) chooses the indices and their order, as in PyTorch.
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are exclusive (the sampler shuffles)")
        self.sampler = sampler

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (to resume a run with the same shuffles and augmentations)."""
        self.epoch = _check_count("epoch", epoch, 0)

    def state_dict(self) -> dict:
        """What makes the coming epochs repeatable: the seed and the next epoch number (for checkpoints)."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed = _check_count("seed", state["seed"], 0)
        self.epoch = _check_count("epoch", state["epoch"], 0)

    def batch_indices(self, epoch: int) -> list:
        """The dataset indices of each batch of ``epoch``."""
        if self.sampler is not None:
            getattr(self.sampler, "set_epoch", lambda epoch: None)(epoch)
            order = np.fromiter(self.sampler, dtype=np.int64)
        else:
            n = len(self.dataset)
            order = np.random.default_rng([self.seed, epoch, 0]).permutation(n) if self.shuffle else np.arange(n)
        return [order[start:start + self.batch_size] for start in range(0, len(self) * self.batch_size,
                                                                          self.batch_size)]

    def make_batch(self, indices, epoch: int, number: int):
        """Fetch, transform and convert one batch, with its own generator."""
        rng = np.random.default_rng([self.seed, epoch, 1, number])
        images, labels = fetch_batch(self.dataset, indices, rng)
        images = apply_transform(self.transform, images, rng)
        if not isinstance(images, np.ndarray) or images.ndim != 4:
            raise ValueError(f"DataLoader: expected image batches of shape (N, C, H, W), got "
                             f"{getattr(images, 'shape', type(images).__name__)} after the transforms")
        return to_float32(images), labels

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        batches = self.batch_indices(epoch)

        def make(number):
            return self.make_batch(batches[number], epoch, number)

        if self.prefetch == 0 and self.num_workers == 0:
            return (make(b) for b in range(len(batches)))
        return _prefetched(make, len(batches), max(1, self.num_workers), max(1, self.prefetch))

    def __repr__(self) -> str:
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, prefetch={self.prefetch}, num_workers={self.num_workers}, "
                f"seed={self.seed})")


def _prefetched(make, count: int, workers: int, depth: int):
    """Yield make(0), make(1), ... computed by ``workers`` threads (batch b by thread b % workers), in order."""
    stop = threading.Event()
    queues = [queue.Queue(maxsize=depth) for _ in range(workers)]

    def work(worker: int) -> None:
        for number in range(worker, count, workers):
            if stop.is_set():
                return
            try:
                item = (True, make(number))
            except BaseException as error:  # handed to the consumer, which raises it
                error.add_note(f"(raised in a DataLoader thread while preparing batch {number})")
                item = (False, error)
            while not stop.is_set():
                try:
                    queues[worker].put(item, timeout=POLL_S)
                    break
                except queue.Full:
                    continue
            if not item[0]:
                return

    threads = [threading.Thread(target=work, args=(w,), name=f"strided-loader-{w}", daemon=True)
               for w in range(workers)]
    for thread in threads:
        thread.start()
    try:
        for number in range(count):
            ok, value = queues[number % workers].get()
            if not ok:
                raise value
            yield value
    finally:
        stop.set()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
