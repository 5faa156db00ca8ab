"""The transform protocol, shared helpers, and the value transforms (Compose, ToFloat, Normalize).

A transform takes one image (C, H, W) or a batch (N, C, H, W), uint8 or float, and returns the
same layout and dtype (ToFloat excepted). Random transforms draw a parameter per image from
``rng`` (the DataLoader passes its own; by default strided's seeded generator) and apply them all
in one vectorised step:

    transform(x, rng=None)  ->  params = transform.draw(N, shape, rng); transform.apply(batch, **params)

``draw`` and ``apply`` are public so that a test or a user can apply chosen parameters.
uint8 results are rounded and clipped to 0..255; float images are taken to lie in [0, 1].
"""

import numbers

import numpy as np

from ... import rng as strided_rng
from ...functional import args


class Transform:
    """Base class: ``forward(batch, rng)`` maps a 4-D batch; ``__call__`` also accepts one 3-D image."""

    def __call__(self, x, rng=None):
        batch = as_batch(self, x)
        out = self.forward(batch, strided_rng.get_generator() if rng is None else rng)
        return out[0] if x.ndim == 3 else out

    def forward(self, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ""

    def label(self) -> str:
        return repr(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class RandomTransform(Transform):
    """A transform whose parameters are drawn per image by ``draw`` and applied by ``apply``."""

    def forward(self, batch, rng):
        return self.apply(batch, **self.draw(len(batch), batch.shape, rng))

    def draw(self, n: int, shape: tuple, rng: np.random.Generator) -> dict:
        raise NotImplementedError

    def apply(self, batch: np.ndarray, **params) -> np.ndarray:
        raise NotImplementedError


def as_batch(transform, x) -> np.ndarray:
    """Check that ``x`` is an image (C, H, W) or batch (N, C, H, W) of uint8 or floats; return it as a batch."""
    if not isinstance(x, np.ndarray):
        raise ValueError(f"{transform.label()}: expected a NumPy array, got {type(x).__name__}")
    if x.ndim not in (3, 4) or not (x.dtype == np.uint8 or np.issubdtype(x.dtype, np.floating)):
        raise ValueError(f"{transform.label()}: expected an image (C, H, W) or a batch (N, C, H, W) of uint8 or "
                         f"floats, got shape {x.shape} of {x.dtype}")
    return x[None] if x.ndim == 3 else x


def check_channels(transform, batch, allowed) -> None:
    if batch.shape[1] not in allowed:
        expected = " or ".join(str(c) for c in allowed)
        raise ValueError(f"{transform.label()}: expected images with {expected} channels, got {batch.shape[1]} "
                         f"(batch of shape {batch.shape})")


def work_dtype(x: np.ndarray) -> np.dtype:
    """The float dtype to compute in: float64 for float64 images, float32 otherwise."""
    return np.dtype(np.float64) if x.dtype == np.float64 else np.dtype(np.float32)


def max_value(x: np.ndarray) -> float:
    """The brightest value: 255 for uint8, 1.0 for float images."""
    return 255.0 if x.dtype == np.uint8 else 1.0


def restore_dtype(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Cast a float result back to the input's dtype (uint8: rounded and clipped)."""
    if like.dtype == np.uint8:
        return np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return y.astype(like.dtype, copy=False)


def channel_values(transform, value, channels: int, dtype) -> np.ndarray:
    """A number or one value per channel -> array of shape (C, 1, 1), as the fill or mean of an operation."""
    values = np.atleast_1d(np.asarray(value, dtype=np.float64))
    if values.ndim != 1 or len(values) not in (1, channels):
        raise ValueError(f"{transform.label()}: expected a number or {channels} values (one per channel), "
                         f"got {value!r}")
    return np.broadcast_to(values, (channels,)).astype(dtype).reshape(channels, 1, 1)


def pair(transform, value, name: str) -> tuple:
    """An int size, a (size,) or a (height, width) pair -> (h, w) of positive ints (as torchvision)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = (value[0], value[0])
    return args.pair(value, name, type(transform).__name__, minimum=1)


def symmetric_range(transform, value, name: str, center: float = 0.0, lower=None) -> tuple:
    """``v`` -> (center - v, center + v) (clipped below at ``lower``); a (min, max) pair is kept as given."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{type(transform).__name__}: {name} must be non-negative, got {value}")
        low, high = center - value, center + value
        if lower is not None:
            low = max(low, lower)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, numbers.Real) for v in value):
        low, high = float(value[0]), float(value[1])
        if low > high:
            raise ValueError(f"{type(transform).__name__}: {name} must be (min, max) with min <= max, got {value}")
    else:
        raise ValueError(f"{type(transform).__name__}: {name} must be a number or a (min, max) pair, got {value!r}")
    return float(low), float(high)


def apply_transform(transform, images, rng):
    """Call ``transform`` on a batch, passing ``rng`` to strided transforms (plain callables get images only)."""
    if transform is None:
        return images
    if isinstance(transform, (Transform, Compose)):
        return transform(images, rng=rng)
    return transform(images)


def probability(transform, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{type(transform).__name__}: p must lie in [0, 1], got {p}")
    return float(p)


class Compose:
    """Apply ``transforms`` in order (each strided transform gets the same ``rng``)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise ValueError(f"Compose: expected callables, got {t!r}")

    def __call__(self, x, rng=None):
        rng = strided_rng.get_generator() if rng is None else rng
        for t in self.transforms:
            x = apply_transform(t, x, rng)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose({inner}\n)"


class ToFloat(Transform):
    """uint8 -> float32 in [0, 1] (x / 255); float images are only cast to ``dtype``."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"ToFloat: dtype must be a float type, got {self.dtype}")

    def forward(self, batch, rng):
        if batch.dtype == np.uint8:
            return batch.astype(self.dtype) / self.dtype.type(255)
        return batch.astype(self.dtype, copy=False)

    def extra_repr(self) -> str:
        return f"dtype={self.dtype}" if self.dtype != np.float32 else ""


class Normalize(Transform):
    """(x - mean[c]) / std[c] per channel, on float images (put ToFloat before it)."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        self.inplace = inplace
        if len(self.mean) != len(self.std):
            raise ValueError(f"{self.label()}: mean and std need the same length, got {len(self.mean)} and "
                             f"{len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"{self.label()}: std must be positive, got {self.std}")

    def forward(self, batch, rng):
        if batch.dtype == np.uint8:
            raise ValueError(f"{self.label()}: expected float images, got uint8; put ToFloat() before Normalize")
        if batch.shape[1] != len(self.mean):
            raise ValueError(f"{self.label()}: expected images with {len(self.mean)} channels, got {batch.shape[1]} "
                             f"(batch of shape {batch.shape})")
        mean = np.asarray(self.mean, batch.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, batch.dtype).reshape(-1, 1, 1)
        if self.inplace:
            batch -= mean
            batch /= std
            return batch
        return (batch - mean) / std

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"
