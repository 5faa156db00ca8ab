"""Datasets: a length, one sample by position, and a whole batch by an array of positions.

Every dataset in strided answers three questions:

    len(ds)                          -> number of samples
    ds[i]                            -> (image (C, H, W), label int)
    ds.get_batch(indices, rng=None)  -> (images (N, C, H, W), labels int64 (N,))

``get_batch`` is what the DataLoader calls: for array-backed datasets it is one fancy-indexing
copy, with no Python loop over samples. Images are uint8 as stored (or whatever a dataset-level
``transform`` makes of them); the loader converts to float32 at the end.
"""

import numpy as np

from .transforms.base import apply_transform


class DatasetError(ValueError):
    """A dataset file or folder that cannot be used as it is; the message names it and says why."""


class Dataset:
    """Base class: subclasses define ``__len__`` and ``get_batch``; indexing is derived from them."""

    classes: list = []

    def __len__(self) -> int:
        raise NotImplementedError

    def get_batch(self, indices, rng=None):
        raise NotImplementedError

    def __getitem__(self, index):
        n = len(self)
        if isinstance(index, (int, np.integer)):
            if not -n <= index < n:
                raise IndexError(f"{type(self).__name__}: index {index} out of range for {n} samples")
            images, labels = self.get_batch(np.array([index % n]))
            return images[0], int(labels[0])
        if isinstance(index, slice):
            return self.get_batch(np.arange(n)[index])
        return self.get_batch(np.asarray(index))


def _check_indices(dataset, indices) -> np.ndarray:
    indices = np.asarray(indices)
    if indices.ndim != 1 or not (np.issubdtype(indices.dtype, np.integer) or indices.size == 0):
        raise ValueError(f"{type(dataset).__name__}: expected a 1-D array of integer indices, "
                         f"got shape {indices.shape} of {indices.dtype}")
    n = len(dataset)
    if indices.size and (indices.min() < -n or indices.max() >= n):
        raise IndexError(f"{type(dataset).__name__}: indices must lie in [0, {n}), "
                         f"got {indices.min()}..{indices.max()}")
    return indices.astype(np.intp, copy=False)


class ArrayDataset(Dataset):
    """Images and labels held in memory as arrays.

    ``images``: (N, C, H, W) or (N, H, W) (a channel axis is added), uint8 or float.
    ``labels``: N integers in [0, len(classes)). ``classes`` defaults to "0", "1", ...
    ``transform`` (optional) is applied to each batch that ``get_batch`` returns.
    """

    def __init__(self, images, labels, classes=None, transform=None, name=None):
        self.name = name or type(self).__name__
        images = np.asarray(images)
        labels = np.asarray(labels)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4:
            raise DatasetError(f"{self.name}: expected images of shape (N, C, H, W) or (N, H, W), got {images.shape}")
        if not (images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)):
            raise DatasetError(f"{self.name}: expected uint8 or float images, got dtype {images.dtype}")
        if labels.ndim != 1 or not (np.issubdtype(labels.dtype, np.integer) or labels.size == 0):
            raise DatasetError(f"{self.name}: expected a 1-D array of integer labels, got shape {labels.shape} "
                               f"of {labels.dtype}")
        if len(images) != len(labels):
            raise DatasetError(f"{self.name}: {len(images)} images but {len(labels)} labels")
        if classes is None:
            classes = [str(c) for c in range(int(labels.max()) + 1 if labels.size else 0)]
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise DatasetError(f"{self.name}: labels must lie in [0, {len(classes)}) for {len(classes)} classes, "
                               f"got {labels.min()}..{labels.max()}")
        self.images = images
        self.labels = labels.astype(np.int64, copy=False)
        self.classes = list(classes)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def get_batch(self, indices, rng=None):
        indices = _check_indices(self, indices)
        images = apply_transform(self.transform, self.images[indices], rng)
        return images, self.labels[indices]

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.images.shape[1:])
        return f"{self.name}: {len(self)} images of {shape} {self.images.dtype}, {len(self.classes)} classes"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (what random_split and stratified_split return)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = _check_indices(dataset, indices) % max(len(dataset), 1)
        self.classes = list(getattr(dataset, "classes", []))

    def __len__(self) -> int:
        return len(self.indices)

    def get_batch(self, indices, rng=None):
        return self.dataset.get_batch(self.indices[_check_indices(self, indices)], rng=rng)

    @property
    def labels(self) -> np.ndarray:
        return dataset_labels(self.dataset)[self.indices]

    def __repr__(self) -> str:
        return f"Subset({len(self)} of {self.dataset!r})"


def dataset_labels(dataset) -> np.ndarray:
    """All labels of a dataset as int64, without decoding images where the dataset keeps them apart."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        labels = [dataset[i][1] for i in range(len(dataset))]
    return np.asarray(labels, dtype=np.int64)


def fetch_batch(dataset, indices, rng=None):
    """(images (N, C, H, W), labels int64) for ``indices``: one ``get_batch`` call for strided datasets;
    for any other indexable dataset of (image, label) pairs, its samples are stacked one by one."""
    if hasattr(dataset, "get_batch"):
        images, labels = dataset.get_batch(indices, rng=rng)
    else:
        samples = [dataset[int(i)] for i in indices]
        images = np.stack([np.asarray(s[0]) for s in samples]) if samples else np.zeros((0, 1, 1, 1), np.uint8)
        labels = [s[1] for s in samples]
        if images.ndim == 3:
            images = images[:, None]
    return images, np.asarray(labels, dtype=np.int64)
