"""RandomErasing (Zhong et al. 2017): blank out a random rectangle of each image, as torchvision does.

Per image, with probability ``p``: up to 10 tries of an area drawn in ``scale``·H·W and an aspect
ratio drawn log-uniformly in ``ratio``; the first (h, w) that fits (h < H and w < W) is placed at a
uniform position and filled with ``value``: a number, one per channel, or 'random' (standard normal
noise, as torchvision; uint8 images get clip(128 + 64·noise)). All tries for all images are drawn at once.
"""

import math

import numpy as np

from .base import RandomTransform, channel_values, probability

ATTEMPTS = 10


class RandomErasing(RandomTransform):
    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace: bool = False):
        if not (len(scale) == 2 and 0 <= scale[0] <= scale[1] <= 1):
            raise ValueError(f"RandomErasing: scale must be (min, max) within [0, 1], got {scale!r}")
        if not (len(ratio) == 2 and 0 < ratio[0] <= ratio[1]):
            raise ValueError(f"RandomErasing: ratio must be (min, max) with 0 < min <= max, got {ratio!r}")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number, one per channel, or 'random', got {value!r}")
        self.p = probability(self, p)
        self.scale, self.ratio, self.value, self.inplace = tuple(scale), tuple(ratio), value, inplace

    def draw(self, n, shape, rng):
        height, width = shape[2:]
        area = height * width * rng.uniform(*self.scale, size=(n, ATTEMPTS))
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), size=(n, ATTEMPTS)))
        h = np.rint(np.sqrt(area * aspect)).astype(np.int64)
        w = np.rint(np.sqrt(area / aspect)).astype(np.int64)
        fits = (h < height) & (w < width)
        first = np.argmax(fits, axis=1)
        rows = np.arange(n)
        erase = (rng.random(n) < self.p) & fits.any(axis=1)
        h, w = np.where(erase, h[rows, first], 0), np.where(erase, w[rows, first], 0)
        params = {"top": (rng.random(n) * (height - h + 1)).astype(np.int64),
                  "left": (rng.random(n) * (width - w + 1)).astype(np.int64), "height": h, "width": w}
        if self.value == "random":
            params["noise"] = rng.standard_normal(shape)
        return params

    def apply(self, batch, top, left, height, width, noise=None):
        """Fill rows top[k]..top[k]+height[k]-1, columns left[k]..left[k]+width[k]-1 of image k."""
        top, left, height, width = (np.asarray(v).reshape(-1, 1) for v in (top, left, height, width))
        rows, cols = np.arange(batch.shape[2]), np.arange(batch.shape[3])
        in_rows = (rows >= top) & (rows < top + height)
        in_cols = (cols >= left) & (cols < left + width)
        mask = in_rows[:, None, :, None] & in_cols[:, None, None, :]
        if noise is not None:
            fill = noise if batch.dtype != np.uint8 else np.clip(np.rint(noise * 64 + 128), 0, 255)
            fill = fill.astype(batch.dtype)
        else:
            fill = channel_values(self, self.value, batch.shape[1], batch.dtype)
        if self.inplace:
            np.copyto(batch, np.broadcast_to(fill, batch.shape), where=mask)
            return batch
        return np.where(mask, fill, batch)

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value}, inplace={self.inplace}"
