"""RandomResizedCrop: each image's crop resized exactly as torch.nn.functional.interpolate resizes that
crop, torchvision's drawing rules (area and ratio ranges, the central fallback), seeding and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import strided as st
from strided.data import transforms as T
from tests.helpers import TOLERANCE, assert_close


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("interpolation, antialias", [("bilinear", True), ("bilinear", False), ("nearest", False)])
def test_each_crop_is_resized_as_torch_resizes_it(interpolation, antialias, dtype):
    rng = np.random.default_rng(0)
    x = rng.random((6, 3, 20, 17)).astype(dtype)
    t = T.RandomResizedCrop((9, 12), scale=(0.05, 1.0), interpolation=interpolation, antialias=antialias)
    params = t.draw(len(x), x.shape, rng)
    out = t.apply(x, **params)
    assert out.shape == (6, 3, 9, 12) and out.dtype == dtype
    for k in range(len(x)):
        top, left, h, w = (int(params[name][k]) for name in ("top", "left", "height", "width"))
        crop = torch.from_numpy(x[k:k + 1, :, top:top + h, left:left + w])
        kwargs = {"antialias": antialias, "align_corners": False} if interpolation == "bilinear" else {}
        expected = F.interpolate(crop, size=(9, 12), mode=interpolation, **kwargs).numpy()[0]
        assert_close(out[k], expected, TOLERANCE[np.dtype(dtype)], f"image {k}, crop {h}x{w} at ({top}, {left})")


def test_draws_follow_torchvisions_rules():
    t = T.RandomResizedCrop(8, scale=(0.2, 0.6), ratio=(0.5, 2.0))
    p = t.draw(2000, (2000, 1, 40, 50), np.random.default_rng(1))
    h, w, top, left = p["height"], p["width"], p["top"], p["left"]
    assert (h >= 1).all() and (w >= 1).all() and (top >= 0).all() and (left >= 0).all()
    assert (top + h <= 40).all() and (left + w <= 50).all()
    area = h * w / (40 * 50)
    # Rounding each side to whole pixels moves the area and ratio a little outside the drawn ranges.
    assert area.min() > 0.2 * 0.85 and area.max() < 0.6 * 1.15
    assert (w / h).min() > 0.5 * 0.8 and (w / h).max() < 2.0 * 1.25
    assert len(np.unique(h)) > 10 and len(np.unique(top)) > 10  # random, not one window for all


@pytest.mark.parametrize("shape, ratio, expected", [((10, 40), (0.75, 4 / 3), (10, 13)),
                                                    ((40, 10), (0.75, 4 / 3), (13, 10)),
                                                    ((12, 12), (0.75, 4 / 3), (12, 12))])
def test_central_fallback_when_no_attempt_fits(shape, ratio, expected):
    """A scale above 1 never fits: torchvision falls back to the whole image clamped to the ratio range."""
    t = T.RandomResizedCrop(4, scale=(1.5, 2.0), ratio=ratio)
    p = t.draw(3, (3, 1) + shape, np.random.default_rng(2))
    assert (p["height"] == expected[0]).all() and (p["width"] == expected[1]).all()
    assert (p["top"] == (shape[0] - expected[0]) // 2).all() and (p["left"] == (shape[1] - expected[1]) // 2).all()


def test_seeded_uint8_and_single_image():
    x = np.random.default_rng(3).integers(0, 256, (4, 3, 16, 16), dtype=np.uint8)
    t = T.RandomResizedCrop(8)
    st.manual_seed(5)
    a = t(x)
    st.manual_seed(5)
    b = t(x)
    assert a.dtype == np.uint8 and a.shape == (4, 3, 8, 8)
    np.testing.assert_array_equal(a, b)
    assert t(x[0]).shape == (3, 8, 8)
    full = T.RandomResizedCrop(16, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    np.testing.assert_array_equal(full(x), x)  # the whole image at its own size: unchanged


@pytest.mark.parametrize("kwargs, message", [({"size": 0}, "size must be"), ({"size": 4, "scale": (0.9, 0.1)},
                                              "scale should be of kind"),
                                             ({"size": 4, "ratio": (1, -1)}, "ratio must be"),
                                             ({"size": 4, "interpolation": "bicubic"}, "interpolation must be")])
def test_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        T.RandomResizedCrop(**kwargs)
