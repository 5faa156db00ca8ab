"""Resize (parity with torch.nn.functional.interpolate), crops, padding and flips, on images and batches."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from strided.data import transforms as T
from tests.helpers import TOLERANCE, assert_close

RESIZE_CASES = [(h, w, oh, ow, aa) for (h, w, oh, ow) in [(8, 8, 16, 16), (28, 28, 14, 14), (28, 20, 11, 37),
                                                          (7, 13, 5, 4), (32, 32, 24, 40), (5, 9, 5, 9),
                                                          (1, 6, 3, 2), (30, 17, 9, 17)]
                for aa in (True, False)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("h, w, oh, ow, antialias", RESIZE_CASES)
def test_resize_bilinear_matches_torch(h, w, oh, ow, antialias, dtype):
    x = np.random.default_rng(h * w + oh).random((2, 3, h, w)).astype(dtype)
    ours = T.Resize((oh, ow), antialias=antialias)(x)
    theirs = F.interpolate(torch.from_numpy(x), size=(oh, ow), mode="bilinear", align_corners=False,
                           antialias=antialias).numpy()
    assert ours.dtype == dtype and ours.shape == (2, 3, oh, ow)
    assert_close(ours, theirs, TOLERANCE[np.dtype(dtype)], f"Resize {h}x{w} -> {oh}x{ow}")


@pytest.mark.parametrize("h, w, oh, ow", [(8, 8, 16, 16), (28, 28, 14, 14), (7, 13, 5, 20)])
def test_resize_nearest_matches_torch(h, w, oh, ow):
    x = np.random.default_rng(0).random((1, 2, h, w))
    ours = T.Resize((oh, ow), interpolation="nearest")(x)
    np.testing.assert_array_equal(ours, F.interpolate(torch.from_numpy(x), size=(oh, ow), mode="nearest").numpy())


def test_resize_shorter_side_uint8_and_single_image():
    x = np.random.default_rng(0).integers(0, 256, (3, 20, 40), dtype=np.uint8)
    out = T.Resize(10)(x)
    assert out.shape == (3, 10, 20) and out.dtype == np.uint8
    assert T.Resize(10, max_size=15)(x).shape == (3, 7, 15)
    assert T.Resize(20)(x).shape == (3, 20, 40)
    flat = np.full((1, 1, 6, 6), 77, np.uint8)
    np.testing.assert_array_equal(T.Resize((3, 9))(flat), np.full((1, 1, 3, 9), 77))


def test_center_crop_and_pad_if_smaller():
    x = np.arange(2 * 1 * 5 * 6, dtype=np.float32).reshape(2, 1, 5, 6)
    np.testing.assert_array_equal(T.CenterCrop(3)(x), x[:, :, 1:4, 2:5])
    np.testing.assert_array_equal(T.CenterCrop((4, 2))(x), x[:, :, 0:4, 2:4])  # round(0.5) = 0, as Python rounds
    padded = T.CenterCrop((7, 8))(x)
    assert padded.shape == (2, 1, 7, 8)
    np.testing.assert_array_equal(padded[:, :, 1:6, 1:7], x)
    assert padded[:, :, 0].sum() == 0 and padded[:, :, :, 0].sum() == 0


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding, pads", [(2, (2, 2, 2, 2)), ((1, 3), (1, 3, 1, 3)), ((1, 2, 3, 0), (1, 2, 3, 0))])
def test_pad_modes_match_numpy(mode, padding, pads):
    x = np.random.default_rng(1).random((2, 3, 5, 6))
    left, top, right, bottom = pads
    expected = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=mode)
    np.testing.assert_array_equal(T.Pad(padding, padding_mode=mode)(x), expected)


def test_pad_fill_per_channel():
    out = T.Pad(1, fill=(1, 2, 3))(np.zeros((3, 2, 2), np.uint8))
    assert out.shape == (3, 4, 4) and out[:, 0, 0].tolist() == [1, 2, 3] and out[:, 1:3, 1:3].sum() == 0


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect"])
def test_random_crop_takes_each_images_own_window(mode):
    x = np.random.default_rng(2).integers(0, 256, (16, 1, 10, 10), dtype=np.uint8)
    crop = T.RandomCrop(8, padding=2, padding_mode=mode, fill=9)
    params = crop.draw(16, x.shape, np.random.default_rng(0))
    out = crop.apply(x, **params)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), mode=mode, **({"constant_values": 9} if mode == "constant"
                                                                        else {}))
    for k in range(16):
        top, left = params["top"][k], params["left"][k]
        np.testing.assert_array_equal(out[k], padded[k, :, top:top + 8, left:left + 8])
    assert len(set(zip(params["top"].tolist(), params["left"].tolist(), strict=True))) > 4
    assert params["top"].min() >= 0 and params["top"].max() <= 6


def test_random_crop_pad_if_needed_and_errors():
    x = np.zeros((2, 1, 5, 5), np.float32)
    assert T.RandomCrop(7, pad_if_needed=True)(x).shape == (2, 1, 7, 7)
    with pytest.raises(ValueError, match=r"RandomCrop\(size=\(7, 7\), padding=None\): crop 7x7 is larger than "
                                         r"the \(padded\) image 5x5"):
        T.RandomCrop(7)(x)
    with pytest.raises(ValueError, match="padding must be a non-negative int"):
        T.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        T.RandomCrop(3, padding_mode="wrap")


def test_flips():
    x = np.random.default_rng(3).random((6, 2, 4, 5))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1)(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0)(x), x)
    flip = np.array([True, False, True, False, False, True])
    out = T.RandomHorizontalFlip().apply(x, flip=flip)
    np.testing.assert_array_equal(out[flip], x[flip][..., ::-1])
    np.testing.assert_array_equal(out[~flip], x[~flip])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1)(x[0]), x[0][..., ::-1])
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: p must lie in \[0, 1\], got 1.5"):
        T.RandomHorizontalFlip(1.5)


def test_each_image_gets_its_own_flip_and_seed_repeats():
    x = np.broadcast_to(np.arange(8.0), (64, 1, 1, 8)).copy()
    a = T.RandomHorizontalFlip()(x, rng=np.random.default_rng(5))
    b = T.RandomHorizontalFlip()(x, rng=np.random.default_rng(5))
    flipped = a[:, 0, 0, 0] == 7
    assert 10 < flipped.sum() < 54
    np.testing.assert_array_equal(a, b)


def test_bad_input_names_the_transform():
    with pytest.raises(ValueError, match=r"CenterCrop\(size=\(3, 3\)\): expected an image \(C, H, W\) or a batch"):
        T.CenterCrop(3)(np.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"got shape \(1, 1, 5, 5\) of int32"):
        T.CenterCrop(3)(np.zeros((1, 1, 5, 5), np.int32))
    with pytest.raises(ValueError, match="expected a NumPy array, got list"):
        T.RandomCrop(3)([[1]])
    with pytest.raises(ValueError, match=r"Resize: size must be an int or a pair of ints \(h, w\) >= 1, got 0"):
        T.Resize(0)
