"""Rotation and affine warps: one sampling grid for the whole batch, bilinear interpolation in NumPy.

Each output pixel p (coordinates relative to the centre of rotation c) reads the input at

    src = M^-1 (p - t),     M = scale · R(angle) · Shear(shear_x, shear_y)

(torchvision's affine convention), so the grids of all N images are one (N, 2, 3) matrix applied
to the pixel coordinates. Sampling pads the image with one ring of ``fill`` and clips the
coordinates into that ring: a point outside the image reads ``fill``, a point half a pixel over the
border blends ``fill`` with the edge pixel. With ``fill=0`` this is exactly
``torch.nn.functional.grid_sample(..., padding_mode='zeros', align_corners=False)``.
"""

import numbers

import numpy as np

from .base import RandomTransform, channel_values, restore_dtype, symmetric_range, work_dtype
from .geometric import INTERPOLATIONS


def inverse_affine_matrices(angle, translate, scale, shear, center) -> np.ndarray:
    """Per-image (N, 2, 3) matrices taking output coordinates to input coordinates (both relative to the centre).

    ``angle`` (degrees, clockwise on screen as y points down), ``translate`` (tx, ty) in pixels,
    ``scale``, ``shear`` (shear_x, shear_y) in degrees, ``center`` (cx, cy) relative to the image
    centre: arrays of N values each (pairs as two arrays).
    """
    rot, shear_x, shear_y = np.radians(angle), np.radians(shear[0]), np.radians(shear[1])
    # M / scale = [[a, b], [c, d]] = R(rot) · Shear, whose determinant is 1, so its inverse is [[d, -b], [-c, a]].
    a = np.cos(rot - shear_y) / np.cos(shear_y)
    b = -np.cos(rot - shear_y) * np.tan(shear_x) / np.cos(shear_y) - np.sin(rot)
    c = np.sin(rot - shear_y) / np.cos(shear_y)
    d = -np.sin(rot - shear_y) * np.tan(shear_x) / np.cos(shear_y) + np.cos(rot)
    inverse = np.stack([np.stack([d, -b], -1), np.stack([-c, a], -1)], -2) / np.asarray(scale)[:, None, None]
    # src = M^-1 (p - c - t) + c
    shift = -np.stack([center[0] + translate[0], center[1] + translate[1]], -1)
    offset = np.einsum("nij,nj->ni", inverse, shift) + np.stack([center[0], center[1]], -1)
    return np.concatenate([inverse, offset[:, :, None]], axis=2)


def sample(batch, src_x, src_y, fill=0, interpolation: str = "bilinear", transform=None) -> np.ndarray:
    """Read ``batch`` (N, C, H, W) at fractional pixel indices ``src_x``/``src_y`` (N, Ho, Wo); outside is ``fill``."""
    n, channels, height, width = batch.shape
    dtype = work_dtype(batch)
    padded = np.empty((n, channels, height + 2, width + 2), dtype=dtype)
    padded[...] = channel_values(transform, fill, channels, dtype)
    padded[:, :, 1:-1, 1:-1] = batch
    stride = width + 2
    x = np.clip(src_x + 1.0, 0.0, width + 1.0).reshape(n, 1, -1)
    y = np.clip(src_y + 1.0, 0.0, height + 1.0).reshape(n, 1, -1)
    out_shape = (n, channels) + src_x.shape[1:]
    # Flat index of each sample point in each (image, channel) plane of the padded batch: one 1-D take per corner.
    planes = (np.arange(n * channels) * (height + 2) * stride).reshape(n, channels, 1)
    values = padded.reshape(-1)
    if interpolation == "nearest":
        return values.take(planes + np.rint(y).astype(np.intp) * stride + np.rint(x).astype(np.intp)).reshape(out_shape)
    x0 = np.minimum(np.floor(x), width)
    y0 = np.minimum(np.floor(y), height)
    wx, wy = (x - x0).astype(dtype), (y - y0).astype(dtype)
    base = planes + y0.astype(np.intp) * stride + x0.astype(np.intp)
    # x0 <= W and y0 <= H, so the +1 neighbours stay inside the padded plane: shift the array, not the indices.
    top = values.take(base) * (1 - wx) + values[1:].take(base) * wx
    bottom = values[stride:].take(base) * (1 - wx) + values[stride + 1:].take(base) * wx
    return (top * (1 - wy) + bottom * wy).reshape(out_shape)


def warp(batch, inverse, fill=0, interpolation: str = "bilinear", transform=None) -> np.ndarray:
    """Apply per-image inverse affine matrices (N, 2, 3) about the image centre; same size out, dtype kept."""
    height, width = batch.shape[2:]
    dtype = work_dtype(batch)  # float32 coordinates are exact enough for uint8 and float32 images
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    xs = (np.arange(width) - cx).astype(dtype)[None, None, :]
    ys = (np.arange(height) - cy).astype(dtype)[None, :, None]
    m = inverse.astype(dtype)[:, :, :, None, None]
    # (N, 1, W) + (N, H, 1): the only full-size pass is the final broadcast sum.
    src_x = m[:, 0, 0] * xs + (m[:, 0, 1] * ys + (m[:, 0, 2] + cx))
    src_y = m[:, 1, 0] * xs + (m[:, 1, 1] * ys + (m[:, 1, 2] + cy))
    return restore_dtype(sample(batch, src_x, src_y, fill, interpolation, transform), batch)


def _check_interpolation(transform, interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{type(transform).__name__}: interpolation must be one of {INTERPOLATIONS}, "
                         f"got {interpolation!r}")


def _center(transform, center, shape):
    """(cx, cy) in torchvision's pixel coordinates (the top-left corner is (0, 0)) -> relative to the centre."""
    if center is None:
        return 0.0, 0.0
    if not (isinstance(center, (tuple, list)) and len(center) == 2):
        raise ValueError(f"{type(transform).__name__}: center must be (x, y), got {center!r}")
    return center[0] - shape[3] / 2.0, center[1] - shape[2] / 2.0


class RandomRotation(RandomTransform):
    """Rotate each image counter-clockwise by its own angle drawn uniformly from ``degrees``.

    ``degrees``: d for (-d, d), or (min, max). The output keeps the input size; uncovered corners
    get ``fill``. ``interpolation`` 'bilinear' (default here; torchvision defaults to 'nearest').
    """

    def __init__(self, degrees, interpolation: str = "bilinear", expand: bool = False, center=None, fill=0):
        self.degrees = symmetric_range(self, degrees, "degrees")
        _check_interpolation(self, interpolation)
        if expand:
            raise ValueError("RandomRotation: expand=True is not supported: each image of a batch gets its own "
                             "angle, so expanded sizes would differ within the batch")
        self.interpolation, self.center, self.fill = interpolation, center, fill

    def draw(self, n, shape, rng):
        return {"angle": rng.uniform(*self.degrees, size=n)}

    def apply(self, batch, angle):
        """Rotate image k by angle[k] degrees counter-clockwise."""
        angle = np.broadcast_to(np.asarray(angle, dtype=np.float64), (len(batch),))
        zeros = np.zeros(len(batch))
        center = _center(self, self.center, batch.shape)
        inverse = inverse_affine_matrices(-angle, (zeros, zeros), np.ones(len(batch)), (zeros, zeros),
                                          (zeros + center[0], zeros + center[1]))
        return warp(batch, inverse, self.fill, self.interpolation, self)

    def extra_repr(self) -> str:
        return f"degrees={list(self.degrees)}, interpolation={self.interpolation}, fill={self.fill}"


class RandomAffine(RandomTransform):
    """Rotate, translate, scale and shear each image with its own parameters (torchvision's RandomAffine).

    ``degrees``: d for (-d, d) or (min, max), clockwise. ``translate`` (a, b): horizontal shift drawn
    in (-a·W, a·W) and vertical in (-b·H, b·H), rounded to whole pixels. ``scale`` (min, max).
    ``shear``: s for x in (-s, s), (min, max) for x, or (xmin, xmax, ymin, ymax).
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None, interpolation: str = "bilinear",
                 fill=0, center=None):
        self.degrees = symmetric_range(self, degrees, "degrees")
        if translate is not None and not (len(translate) == 2 and all(0.0 <= t <= 1.0 for t in translate)):
            raise ValueError(f"RandomAffine: translate must be (a, b) with values in [0, 1], got {translate!r}")
        if scale is not None and not (len(scale) == 2 and 0 < scale[0] <= scale[1]):
            raise ValueError(f"RandomAffine: scale must be (min, max) with 0 < min <= max, got {scale!r}")
        if shear is None:
            self.shear = None
        elif isinstance(shear, numbers.Real) or len(shear) == 2:
            self.shear = symmetric_range(self, shear, "shear") + (0.0, 0.0)
        elif len(shear) == 4:
            self.shear = symmetric_range(self, shear[:2], "shear") + symmetric_range(self, shear[2:], "shear")
        else:
            raise ValueError(f"RandomAffine: shear must be a number, or 2 or 4 numbers, got {shear!r}")
        _check_interpolation(self, interpolation)
        self.translate, self.scale, self.interpolation, self.fill, self.center = \
            translate, scale, interpolation, fill, center

    def draw(self, n, shape, rng):
        zeros = np.zeros(n)
        params = {"angle": rng.uniform(*self.degrees, size=n), "translate_x": zeros, "translate_y": zeros,
                  "scale": np.ones(n), "shear_x": zeros, "shear_y": zeros}
        if self.translate is not None:
            max_x, max_y = self.translate[0] * shape[3], self.translate[1] * shape[2]
            params["translate_x"] = np.round(rng.uniform(-max_x, max_x, size=n))
            params["translate_y"] = np.round(rng.uniform(-max_y, max_y, size=n))
        if self.scale is not None:
            params["scale"] = rng.uniform(*self.scale, size=n)
        if self.shear is not None:
            params["shear_x"] = rng.uniform(*self.shear[:2], size=n)
            params["shear_y"] = rng.uniform(*self.shear[2:], size=n)
        return params

    def apply(self, batch, angle=0.0, translate_x=0.0, translate_y=0.0, scale=1.0, shear_x=0.0, shear_y=0.0):
        """Warp image k with angle[k], (translate_x[k], translate_y[k]), scale[k], (shear_x[k], shear_y[k])."""
        n = len(batch)
        p = [np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
             for v in (angle, translate_x, translate_y, scale, shear_x, shear_y)]
        cx, cy = _center(self, self.center, batch.shape)
        inverse = inverse_affine_matrices(p[0], (p[1], p[2]), p[3], (p[4], p[5]), (np.full(n, cx), np.full(n, cy)))
        return warp(batch, inverse, self.fill, self.interpolation, self)

    def extra_repr(self) -> str:
        return (f"degrees={list(self.degrees)}, translate={self.translate}, scale={self.scale}, "
                f"shear={self.shear}, interpolation={self.interpolation}, fill={self.fill}")
