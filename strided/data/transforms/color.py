"""Colour transforms: Grayscale, RandomGrayscale, ColorJitter (brightness, contrast, saturation, hue).

Every operation blends the image with a reference and clips to the valid range [0, 1] (0..255 for
uint8), as torchvision does:

    brightness f:  f·x                    contrast f:  f·x + (1 - f)·mean(gray(x))
    saturation f:  f·x + (1 - f)·gray(x)  hue h:       rotate the hue of HSV by h (a fraction of a turn)
    gray(x) = 0.2989 R + 0.587 G + 0.114 B

Saturation and hue leave one-channel images unchanged. ColorJitter applies its four operations in
a random order drawn per image (torchvision draws one order per image too).
"""

import numbers

import numpy as np

from .base import RandomTransform, Transform, check_channels, max_value, probability, restore_dtype, work_dtype

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)


def to_gray(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) -> (N, 1, H, W) luma with ITU-R 601-2 weights (float in, float out)."""
    weights = np.asarray(GRAY_WEIGHTS, dtype=x.dtype).reshape(1, 3, 1, 1)
    return (x * weights).sum(axis=1, keepdims=True)


def rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    """(N, 3, H, W) RGB in [0, 1] -> HSV, each in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    value = x.max(axis=1)
    chroma = value - x.min(axis=1)
    saturation = np.where(value > 0, chroma / np.where(value > 0, value, 1), 0)
    safe = np.where(chroma > 0, chroma, 1)
    rc, gc, bc = (value - r) / safe, (value - g) / safe, (value - b) / safe
    hue = np.where(value == r, bc - gc, np.where(value == g, 2.0 + rc - bc, 4.0 + gc - rc))
    hue = np.where(chroma > 0, (hue / 6.0) % 1.0, 0)
    return np.stack([hue, saturation, value], axis=1).astype(x.dtype, copy=False)


def hsv_to_rgb(x: np.ndarray) -> np.ndarray:
    """Inverse of rgb_to_hsv."""
    h, s, v = x[:, 0], x[:, 1], x[:, 2]
    sector = np.floor(h * 6.0)
    f = h * 6.0 - sector
    sector = sector.astype(np.intp) % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [np.choose(sector, order) for order in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))]
    return np.stack(rgb, axis=1).astype(x.dtype, copy=False)


class Grayscale(Transform):
    """RGB -> gray (0.2989 R + 0.587 G + 0.114 B), with 1 or 3 (identical) output channels."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def forward(self, batch, rng):
        check_channels(self, batch, (1, 3))
        gray = batch if batch.shape[1] == 1 else restore_dtype(to_gray(batch.astype(work_dtype(batch))), batch)
        return np.repeat(gray, self.num_output_channels, axis=1) if self.num_output_channels == 3 else gray.copy()

    def extra_repr(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class RandomGrayscale(RandomTransform):
    """Turn each image gray with probability ``p``, keeping its number of channels."""

    def __init__(self, p: float = 0.1):
        self.p = probability(self, p)

    def draw(self, n, shape, rng):
        return {"gray": rng.random(n) < self.p}

    def apply(self, batch, gray):
        check_channels(self, batch, (1, 3))
        gray = np.asarray(gray, dtype=bool)
        out = batch.copy()
        if batch.shape[1] == 3 and gray.any():
            out[gray] = restore_dtype(to_gray(batch[gray].astype(work_dtype(batch))), batch)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


def _factor_range(name, value, center, bound=None, clip_low=True):
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
        low, high = center - value, center + value
        low = max(low, 0.0) if clip_low else low
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = float(value[0]), float(value[1])
    else:
        raise ValueError(f"ColorJitter: {name} must be a number or (min, max), got {value!r}")
    if low > high or (bound is not None and not (bound[0] <= low <= high <= bound[1])):
        raise ValueError(f"ColorJitter: {name} range ({low}, {high}) must be ordered"
                         + (f" and lie within {bound}" if bound else ""))
    return None if low == high == center else (low, high)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue, each image with its own factors and order.

    ``brightness``/``contrast``/``saturation`` b: factor in [max(0, 1 - b), 1 + b] (or (min, max));
    ``hue`` h: shift in [-h, h] turns, with 0 <= h <= 0.5. Zero disables an operation.
    """

    OPERATIONS = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.ranges = {
            "brightness": _factor_range("brightness", brightness, 1.0, (0.0, np.inf)),
            "contrast": _factor_range("contrast", contrast, 1.0, (0.0, np.inf)),
            "saturation": _factor_range("saturation", saturation, 1.0, (0.0, np.inf)),
            "hue": _factor_range("hue", hue, 0.0, (-0.5, 0.5), clip_low=False),
        }
        self.brightness, self.contrast, self.saturation, self.hue = brightness, contrast, saturation, hue

    def draw(self, n, shape, rng):
        params = {"order": np.argsort(rng.random((n, len(self.OPERATIONS))), axis=1)}
        for name, bounds in self.ranges.items():
            params[name] = None if bounds is None else rng.uniform(*bounds, size=n)
        return params

    def apply(self, batch, order=None, brightness=None, contrast=None, saturation=None, hue=None):
        """Apply the given per-image factors (None skips an operation) in the per-image ``order`` (N, 4)."""
        check_channels(self, batch, (1, 3))
        n = len(batch)
        order = np.tile(np.arange(4), (n, 1)) if order is None else np.asarray(order)
        factors = dict(zip(self.OPERATIONS, (brightness, contrast, saturation, hue), strict=True))
        x = batch.astype(work_dtype(batch))
        top = max_value(batch)
        for step in range(len(self.OPERATIONS)):
            for op, name in enumerate(self.OPERATIONS):
                chosen = order[:, step] == op
                if factors[name] is None or not chosen.any():
                    continue
                factor = np.broadcast_to(np.asarray(factors[name], dtype=x.dtype), (n,))[chosen]
                x[chosen] = getattr(self, "_" + name)(x[chosen], factor.reshape(-1, 1, 1, 1), top)
        return restore_dtype(x, batch)

    @staticmethod
    def _brightness(x, f, top):
        return np.clip(f * x, 0, top)

    @staticmethod
    def _contrast(x, f, top):
        gray = to_gray(x) if x.shape[1] == 3 else x
        return np.clip(f * x + (1 - f) * gray.mean(axis=(1, 2, 3), keepdims=True), 0, top)

    @staticmethod
    def _saturation(x, f, top):
        return x if x.shape[1] == 1 else np.clip(f * x + (1 - f) * to_gray(x), 0, top)

    @staticmethod
    def _hue(x, f, top):
        if x.shape[1] == 1:
            return x
        hsv = rgb_to_hsv(x / x.dtype.type(top))
        hsv[:, 0] = (hsv[:, 0] + f[:, :, 0]) % 1.0
        return hsv_to_rgb(hsv) * x.dtype.type(top)

    def extra_repr(self) -> str:
        return (f"brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
                f"hue={self.hue}")
