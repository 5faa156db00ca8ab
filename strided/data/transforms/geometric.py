"""Resizing, cropping, padding and flipping, on a whole batch at once.

Resize is separable: with a (H_out, H) matrix A and a (W_out, W) matrix B of interpolation
weights, ``out = A @ x @ B.T`` for every image and channel in two BLAS calls. The weights are
PyTorch's: bilinear with half-pixel centres (``align_corners=False``); with ``antialias`` a
triangle filter widened by the scale factor when shrinking (what Pillow and torchvision do).
Random crops gather each image's own window from a sliding-window view, without a loop.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ...functional.interpolate import interpolation_weights
from .base import RandomTransform, Transform, channel_values, pair, probability, restore_dtype, work_dtype

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")
INTERPOLATIONS = ("bilinear", "nearest")


def resize_weights(in_size: int, out_size: int, interpolation: str = "bilinear", antialias: bool = True):
    """The (out_size, in_size) matrix whose row i holds the weights output pixel i gives each input pixel."""
    scale = in_size / out_size
    i = np.arange(out_size)[:, None]
    j = np.arange(in_size)[None, :]
    if interpolation == "nearest" or not antialias:
        # the same weights as torch.nn.functional.interpolate (one definition, in strided.functional)
        mode = "nearest" if interpolation == "nearest" else "linear"
        return interpolation_weights(in_size, out_size, mode, align_corners=False)
    # PyTorch's _upsample_bilinear2d_aa: a triangle of half-width `support` around the source centre.
    support = max(scale, 1.0)
    center = scale * (i + 0.5)
    first = np.maximum(np.trunc(center - support + 0.5), 0)
    stop = np.minimum(np.trunc(center + support + 0.5), in_size)
    weights = np.maximum(0.0, 1.0 - np.abs((j - center + 0.5) / support))
    weights *= (j >= first) & (j < stop)
    return weights / weights.sum(axis=1, keepdims=True)


def resized_shape(height: int, width: int, size, max_size=None) -> tuple:
    """torchvision's rule: an int matches the shorter side (keeping the aspect ratio), (h, w) is exact."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = sorted((height, width))
    new_short = int(size if isinstance(size, numbers.Integral) else size[0])
    new_long = int(new_short * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), int(max_size)
    return (new_short, new_long) if height <= width else (new_long, new_short)


class Resize(Transform):
    """Resize to ``size``: (h, w) exactly, or an int for the shorter side keeping the aspect ratio.

    ``interpolation`` 'bilinear' (default) or 'nearest'; ``antialias`` smooths when shrinking.
    """

    def __init__(self, size, interpolation: str = "bilinear", max_size=None, antialias: bool = True):
        if isinstance(size, numbers.Integral) or (isinstance(size, (tuple, list)) and len(size) == 1):
            pair(self, size, "size")
        else:
            pair(self, tuple(size) if isinstance(size, (tuple, list)) else size, "size")
            if max_size is not None:
                raise ValueError(f"Resize: max_size applies only when size is an int, got size={size}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"Resize: interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
        self.size, self.interpolation, self.max_size, self.antialias = size, interpolation, max_size, antialias

    def forward(self, batch, rng):
        height, width = batch.shape[2:]
        out_h, out_w = resized_shape(height, width, self.size, self.max_size)
        if (out_h, out_w) == (height, width):
            return batch.copy()
        dtype = work_dtype(batch)
        rows = resize_weights(height, out_h, self.interpolation, self.antialias).astype(dtype)
        cols = resize_weights(width, out_w, self.interpolation, self.antialias).astype(dtype)
        return restore_dtype(rows @ batch.astype(dtype, copy=False) @ cols.T, batch)

    def extra_repr(self) -> str:
        return f"size={self.size}, interpolation={self.interpolation}, max_size={self.max_size}, " \
               f"antialias={self.antialias}"


def parse_padding(transform, padding) -> tuple:
    """int, (left/right, top/bottom) or (left, top, right, bottom) -> (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        padding = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) in (1, 2, 4):
        padding = tuple(padding) * (4 // len(padding))
    else:
        padding = None
    if padding is None or not all(isinstance(p, numbers.Integral) and p >= 0 for p in padding):
        raise ValueError(f"{type(transform).__name__}: padding must be a non-negative int, or 2 or 4 of them, "
                         f"got {padding!r}")
    return tuple(int(p) for p in padding)


def pad_batch(transform, batch, padding, fill=0, mode: str = "constant") -> np.ndarray:
    """Pad a batch by (left, top, right, bottom) with a fill value (per channel allowed) or a border mode."""
    left, top, right, bottom = padding
    if not any(padding):
        return batch
    if mode != "constant":
        return np.pad(batch, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    n, c, h, w = batch.shape
    out = np.empty((n, c, h + top + bottom, w + left + right), dtype=batch.dtype)
    out[...] = channel_values(transform, fill, c, batch.dtype)
    out[:, :, top:top + h, left:left + w] = batch
    return out


def _check_mode(transform, mode):
    if mode not in PADDING_MODES:
        raise ValueError(f"{type(transform).__name__}: padding_mode must be one of {PADDING_MODES}, got {mode!r}")


class Pad(Transform):
    """Pad every side: ``padding`` int, (left/right, top/bottom) or (left, top, right, bottom)."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        self.padding = parse_padding(self, padding)
        _check_mode(self, padding_mode)
        self.fill, self.padding_mode = fill, padding_mode

    def forward(self, batch, rng):
        return pad_batch(self, batch, self.padding, self.fill, self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


class CenterCrop(Transform):
    """The central (h, w) window; an image smaller than that is padded with zeros first (as torchvision)."""

    def __init__(self, size):
        self.size = pair(self, size, "size")

    def forward(self, batch, rng):
        (h, w), (height, width) = self.size, batch.shape[2:]
        if h > height or w > width:
            dh, dw = max(h - height, 0), max(w - width, 0)
            batch = pad_batch(self, batch, (dw // 2, dh // 2, (dw + 1) // 2, (dh + 1) // 2))
            height, width = batch.shape[2:]
        top, left = int(round((height - h) / 2.0)), int(round((width - w) / 2.0))
        return np.ascontiguousarray(batch[:, :, top:top + h, left:left + w])

    def extra_repr(self) -> str:
        return f"size={self.size}"


class RandomCrop(RandomTransform):
    """A random (h, w) window per image, after optional ``padding`` (and ``pad_if_needed``).

    ``padding_mode``: 'constant' (with ``fill``), 'edge', 'reflect' or 'symmetric'.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = pair(self, size, "size")
        self.padding = parse_padding(self, padding) if padding is not None else (0, 0, 0, 0)
        _check_mode(self, padding_mode)
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode
        self._padding_arg = padding

    def _full_padding(self, height: int, width: int) -> tuple:
        left, top, right, bottom = self.padding
        h, w = self.size
        if self.pad_if_needed:
            extra_w = max(w - (width + left + right), 0)
            extra_h = max(h - (height + top + bottom), 0)
            left, right, top, bottom = left + extra_w, right + extra_w, top + extra_h, bottom + extra_h
        if height + top + bottom < h or width + left + right < w:
            raise ValueError(f"{self.label()}: crop {h}x{w} is larger than the (padded) image "
                             f"{height + top + bottom}x{width + left + right}; use padding or pad_if_needed=True")
        return left, top, right, bottom

    def draw(self, n, shape, rng):
        left, top, right, bottom = self._full_padding(*shape[2:])
        h, w = self.size
        return {"top": rng.integers(0, shape[2] + top + bottom - h + 1, size=n),
                "left": rng.integers(0, shape[3] + left + right - w + 1, size=n)}

    def apply(self, batch, top, left):
        """Crop image k at (top[k], left[k]) of the padded image."""
        padded = pad_batch(self, batch, self._full_padding(*batch.shape[2:]), self.fill, self.padding_mode)
        windows = sliding_window_view(padded, self.size, axis=(2, 3))  # (N, C, H', W', h, w), a view
        return windows[np.arange(len(batch)), :, np.asarray(top), np.asarray(left)]

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self._padding_arg}"


class RandomHorizontalFlip(RandomTransform):
    """Mirror left-right each image with probability ``p``."""

    axis = -1

    def __init__(self, p: float = 0.5):
        self.p = probability(self, p)

    def draw(self, n, shape, rng):
        return {"flip": rng.random(n) < self.p}

    def apply(self, batch, flip):
        out = batch.copy()
        flip = np.asarray(flip, dtype=bool)
        out[flip] = np.flip(batch[flip], axis=self.axis)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom each image with probability ``p``."""

    axis = -2
