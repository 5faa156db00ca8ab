"""RandomResizedCrop: a random part of each image (random area and aspect ratio), resized to a fixed size.

torchvision's augmentation for ImageNet-style training (Szegedy et al., 2015), its algorithm and
defaults: up to 10 attempts draw an area fraction s ~ U(scale) and a log aspect ratio
log r ~ U(log ratio); the crop is w = round(sqrt(s * H * W * r)), h = round(sqrt(s * H * W / r)) at a
uniform position, the first attempt that fits; if none fits, the central crop of the whole image
clamped to the ratio range. Each image's crop is then resized as Resize does.

Every image of a batch has its own window, so the resize is a pair of matrices per image,
``out_k = R_k @ x_k @ C_k^T``, where R_k (out_h, H) holds the resize weights of crop height h_k in
the columns top_k .. top_k + h_k (C_k alike): one batched product for the whole batch.
"""

import math
import numbers

import numpy as np

from .base import RandomTransform, pair, restore_dtype, work_dtype
from .geometric import INTERPOLATIONS, resize_weights

ATTEMPTS = 10  # torchvision's


class RandomResizedCrop(RandomTransform):
    """Crop a random area fraction in ``scale`` with aspect ratio (width / height) in ``ratio``, resize to ``size``.

    ``size``: int or (h, w); ``interpolation`` 'bilinear' (default) or 'nearest'; ``antialias`` smooths when
    shrinking (torchvision's default True).
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0), interpolation: str = "bilinear",
                 antialias: bool = True):
        self.size = pair(self, size, "size")
        for name, value in (("scale", scale), ("ratio", ratio)):
            if not (isinstance(value, (tuple, list)) and len(value) == 2
                    and all(isinstance(v, numbers.Real) and v > 0 for v in value)):
                raise ValueError(f"RandomResizedCrop: {name} must be a (min, max) pair of positive numbers, "
                                 f"got {value!r}")
            if value[0] > value[1]:
                raise ValueError(f"RandomResizedCrop: {name} should be of kind (min, max), got {value!r}")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"RandomResizedCrop: interpolation must be one of {INTERPOLATIONS}, "
                             f"got {interpolation!r}")
        self.scale, self.ratio = (float(scale[0]), float(scale[1])), (float(ratio[0]), float(ratio[1]))
        self.interpolation, self.antialias = interpolation, bool(antialias)

    def draw(self, n, shape, rng):
        """Per image: ``top``, ``left``, ``height``, ``width`` of its crop (torchvision's get_params)."""
        height, width = shape[2:]
        area = height * width
        target_area = area * rng.uniform(self.scale[0], self.scale[1], (n, ATTEMPTS))
        aspect = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), (n, ATTEMPTS)))
        w = np.rint(np.sqrt(target_area * aspect)).astype(np.int64)  # rint rounds half to even, as round()
        h = np.rint(np.sqrt(target_area / aspect)).astype(np.int64)
        fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
        first = np.argmax(fits, axis=1)  # the first attempt that fits
        rows = np.arange(n)
        crop_h, crop_w = h[rows, first], w[rows, first]
        fallback = ~fits.any(axis=1)
        if fallback.any():
            crop_h[fallback], crop_w[fallback] = self._central_size(height, width)
        top = rng.integers(0, height - crop_h + 1)
        left = rng.integers(0, width - crop_w + 1)
        top[fallback], left[fallback] = (height - crop_h[fallback]) // 2, (width - crop_w[fallback]) // 2
        return {"top": top, "left": left, "height": crop_h, "width": crop_w}

    def _central_size(self, height: int, width: int) -> tuple:
        """The whole image, clamped to the ratio range: torchvision's fallback after ATTEMPTS misses."""
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            return int(round(width / self.ratio[0])), width
        if in_ratio > self.ratio[1]:
            return height, int(round(height * self.ratio[1]))
        return height, width

    def _crop_matrices(self, out_size: int, in_size: int, starts, lengths, dtype) -> np.ndarray:
        """(N, out_size, in_size): image k's resize weights for its crop [starts[k], starts[k] + lengths[k])."""
        starts, lengths = np.asarray(starts), np.asarray(lengths)
        matrices = np.zeros((len(starts), out_size, in_size), dtype=dtype)
        # One weight matrix per distinct crop length (at most in_size of them), not one per image.
        for length in np.unique(lengths):
            images = np.flatnonzero(lengths == length)
            weights = resize_weights(int(length), out_size, self.interpolation, self.antialias).astype(dtype)
            columns = starts[images, None] + np.arange(length)[None, :]                  # (k, length)
            matrices[images[:, None, None], np.arange(out_size)[None, :, None], columns[:, None, :]] = weights
        return matrices

    def apply(self, batch, top, left, height, width):
        """Crop image k at (top[k], left[k]) with size (height[k], width[k]) and resize it to ``size``."""
        dtype = work_dtype(batch)
        (out_h, out_w), (in_h, in_w) = self.size, batch.shape[2:]
        rows = self._crop_matrices(out_h, in_h, top, height, dtype)       # (N, out_h, H)
        cols = self._crop_matrices(out_w, in_w, left, width, dtype)       # (N, out_w, W)
        out = rows[:, None] @ batch.astype(dtype, copy=False) @ cols[:, None].transpose(0, 1, 3, 2)
        return restore_dtype(out, batch)

    def extra_repr(self) -> str:
        return (f"size={self.size}, scale={self.scale}, ratio={self.ratio}, interpolation={self.interpolation}, "
                f"antialias={self.antialias}")
