"""Value transforms: ToFloat, Normalize, Compose, Grayscale, ColorJitter, RandomErasing."""

import colorsys

import numpy as np
import pytest

import strided as st
from strided.data import transforms as T
from tests.helpers import TOLERANCE, assert_close

GRAY = np.array([0.2989, 0.587, 0.114])


def images(shape=(4, 3, 5, 6), seed=0):
    return np.random.default_rng(seed).random(shape)


def test_to_float():
    x = np.array([[[0, 51, 255]]], np.uint8)
    out = T.ToFloat()(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([[[0.0, 0.2, 1.0]]], np.float32))
    assert T.ToFloat(np.float64)(x).dtype == np.float64
    assert T.ToFloat()(np.zeros((1, 1, 1), np.float64)).dtype == np.float32
    with pytest.raises(ValueError, match="ToFloat: dtype must be a float type"):
        T.ToFloat(np.int32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_formula(dtype):
    x = images().astype(dtype)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(x)
    assert out.dtype == dtype
    expected = (x - np.array(mean).reshape(3, 1, 1)) / np.array(std).reshape(3, 1, 1)
    assert_close(out, expected, TOLERANCE[np.dtype(dtype)], "Normalize")
    same = x.copy()
    T.Normalize(mean, std, inplace=True)(same)
    np.testing.assert_array_equal(same, out)


def test_normalize_errors():
    with pytest.raises(ValueError, match=r"expected float images, got uint8; put ToFloat\(\) before Normalize"):
        T.Normalize((0.5,), (0.5,))(np.zeros((1, 2, 2), np.uint8))
    with pytest.raises(ValueError, match=r"Normalize\(mean=\(0.5, 0.5, 0.5\).*expected images with 3 channels, "
                                         r"got 1"):
        T.Normalize((0.5,) * 3, (0.5,) * 3)(np.zeros((2, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="std must be positive"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match="mean and std need the same length"):
        T.Normalize((0.5, 0.5), (1.0,))


def test_compose_passes_rng_and_accepts_plain_callables():
    pipeline = T.Compose([T.RandomHorizontalFlip(), lambda x: x * 2, T.ToFloat()])
    x = np.random.default_rng(0).integers(0, 100, (8, 1, 3, 4), dtype=np.uint8)
    a, b = pipeline(x, rng=np.random.default_rng(3)), pipeline(x, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    st.manual_seed(7)
    c = pipeline(x)
    st.manual_seed(7)
    np.testing.assert_array_equal(c, pipeline(x))
    assert "RandomHorizontalFlip(p=0.5)" in repr(pipeline)
    with pytest.raises(ValueError, match="Compose: expected callables"):
        T.Compose([3])


def test_grayscale():
    x = images()
    out = T.Grayscale()(x)
    np.testing.assert_allclose(out[:, 0], np.einsum("c,nchw->nhw", GRAY, x), rtol=1e-12)
    assert T.Grayscale(3)(x).shape == (4, 3, 5, 6)
    u8 = (x * 255).astype(np.uint8)
    assert T.Grayscale()(u8).dtype == np.uint8
    with pytest.raises(ValueError, match=r"Grayscale\(num_output_channels=1\): expected images with 1 or 3 channels, "
                                         r"got 4"):
        T.Grayscale()(np.zeros((1, 4, 2, 2)))
    mixed = T.RandomGrayscale().apply(x, gray=np.array([True, False, True, False]))
    np.testing.assert_allclose(mixed[0], np.repeat(out[0], 3, axis=0))
    np.testing.assert_array_equal(mixed[1], x[1])


def test_brightness_contrast_saturation_formulas():
    x = images()
    jitter = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5)
    f = np.array([0.5, 1.2, 0.9, 1.4])
    gray = np.einsum("c,nchw->nhw", GRAY, x)[:, None]
    bright = jitter.apply(x, brightness=f)
    np.testing.assert_allclose(bright, np.clip(f[:, None, None, None] * x, 0, 1), rtol=1e-6)
    contrast = jitter.apply(x, contrast=f)
    mean = gray.mean(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_allclose(contrast, np.clip(f[:, None, None, None] * x + (1 - f[:, None, None, None]) * mean,
                                                 0, 1), rtol=1e-6)
    saturation = jitter.apply(x, saturation=f)
    np.testing.assert_allclose(saturation, np.clip(f[:, None, None, None] * x + (1 - f[:, None, None, None]) * gray,
                                                   0, 1), rtol=1e-6)


def test_hue_matches_colorsys():
    x = images((2, 3, 3, 4), seed=1)
    shift = np.array([0.1, -0.3])
    out = T.ColorJitter(hue=0.5).apply(x, hue=shift)
    for n in range(2):
        for i in range(3):
            for j in range(4):
                h, s, v = colorsys.rgb_to_hsv(*x[n, :, i, j])
                expected = colorsys.hsv_to_rgb((h + shift[n]) % 1.0, s, v)
                np.testing.assert_allclose(out[n, :, i, j], expected, atol=1e-6)
    np.testing.assert_allclose(T.hsv_to_rgb(T.rgb_to_hsv(x)), x, atol=1e-12)


def test_saturation_and_hue_leave_gray_images_alone():
    x = images((3, 1, 4, 4))
    jitter = T.ColorJitter(saturation=0.9, hue=0.4)
    np.testing.assert_array_equal(jitter(x, rng=np.random.default_rng(0)), x.astype(np.float64))


def test_order_is_drawn_per_image_and_factors_in_range():
    jitter = T.ColorJitter(brightness=0.4, contrast=(0.5, 0.6), saturation=0, hue=0.1)
    p = jitter.draw(200, (200, 3, 2, 2), np.random.default_rng(0))
    assert p["saturation"] is None
    assert 0.6 <= p["brightness"].min() and p["brightness"].max() <= 1.4
    assert 0.5 <= p["contrast"].min() and p["contrast"].max() <= 0.6 and np.abs(p["hue"]).max() <= 0.1
    assert len({tuple(o) for o in p["order"]}) > 10 and np.all(np.sort(p["order"], axis=1) == np.arange(4))
    # order matters: brightness then contrast differs from contrast then brightness once values clip
    x = images((2, 3, 4, 4))
    both = dict(brightness=np.array([1.8, 1.8]), contrast=np.array([0.3, 0.3]))
    out = jitter.apply(x, order=np.array([[0, 1, 2, 3], [1, 0, 2, 3]]), **both)
    first = jitter.apply(x[:1], order=np.array([[0, 1, 2, 3]]), **{k: v[:1] for k, v in both.items()})
    np.testing.assert_allclose(out[0], first[0])
    assert not np.allclose(out[0], jitter.apply(x[:1], order=np.array([[1, 0, 2, 3]]),
                                                **{k: v[:1] for k, v in both.items()})[0])


def test_color_jitter_uint8_and_errors():
    x = (images() * 255).astype(np.uint8)
    out = T.ColorJitter(0.3, 0.3, 0.3, 0.1)(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
    with pytest.raises(ValueError, match="ColorJitter: brightness must be non-negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match=r"hue range \(-0.7, 0.7\) must be ordered and lie within \(-0.5, 0.5\)"):
        T.ColorJitter(hue=0.7)


def test_random_erasing_region_and_value():
    x = np.ones((5, 3, 10, 12))
    erase = T.RandomErasing(p=1.0, value=(0.0, 0.5, 0.25))
    p = erase.draw(5, x.shape, np.random.default_rng(0))
    out = erase.apply(x, **p)
    for k in range(5):
        t, left, h, w = (int(p[name][k]) for name in ("top", "left", "height", "width"))
        assert 0 < h < 10 and 0 < w < 12 and t + h <= 10 and left + w <= 12
        region = out[k, :, t:t + h, left:left + w]
        assert np.all(region[0] == 0) and np.all(region[1] == 0.5) and np.all(region[2] == 0.25)
        assert (out[k] != 1).any(axis=0).sum() == h * w
    assert len({tuple(int(p[n][k]) for n in ("top", "left", "height", "width")) for k in range(5)}) == 5
    np.testing.assert_array_equal(T.RandomErasing(p=0.0)(x), x)


def test_random_erasing_random_values_and_errors():
    x = np.zeros((2, 1, 8, 8), np.float32)
    out = T.RandomErasing(p=1.0, value="random")(x, rng=np.random.default_rng(0))
    assert out.dtype == np.float32 and (out != 0).sum() > 0
    with pytest.raises(ValueError, match="value must be a number, one per channel, or 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(ValueError, match=r"scale must be \(min, max\) within \[0, 1\]"):
        T.RandomErasing(scale=(0.5, 0.1))
