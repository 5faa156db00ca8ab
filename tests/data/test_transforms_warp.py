"""Rotation and affine warps: rot90, the exact geometry on ramp images, and sampler parity with grid_sample."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from strided.data import transforms as T
from strided.data.transforms.warp import sample
from tests.helpers import TOLERANCE, assert_close


@pytest.mark.parametrize("size", [6, 7, 28])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_rotation_by_multiples_of_90_degrees_equals_rot90(size, k):
    x = np.random.default_rng(size).integers(0, 256, (3, 2, size, size), dtype=np.uint8)
    out = T.RandomRotation((90 * k, 90 * k))(x)
    np.testing.assert_array_equal(out, np.rot90(x, k, axes=(2, 3)))  # counter-clockwise, like np.rot90
    xf = x.astype(np.float64) / 255
    np.testing.assert_allclose(T.RandomRotation(0).apply(xf, angle=90.0 * k), np.rot90(xf, k, axes=(2, 3)),
                               atol=1e-12, rtol=0)
    # RandomAffine's angle turns clockwise (torchvision's convention)
    np.testing.assert_array_equal(T.RandomAffine(0).apply(x, angle=90.0 * k), np.rot90(x, -k, axes=(2, 3)))


def forward_matrix(angle, tx, ty, scale, shear_x, shear_y):
    """torchvision's documented forward map: T · R(a) · S(s) · SHy(sy) · SHx(sx) (about the centre), 3x3."""
    a, sx, sy = np.radians([angle, shear_x, shear_y])
    rotate = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    shear_h = np.array([[1, -np.tan(sx), 0], [0, 1, 0], [0, 0, 1]])
    shear_v = np.array([[1, 0, 0], [-np.tan(sy), 1, 0], [0, 0, 1]])
    translate = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    return translate @ rotate @ np.diag([scale, scale, 1]) @ shear_v @ shear_h


def ramp(height, width):
    """Two channels holding each pixel's own column and row index: bilinear sampling returns the coordinates."""
    rows, cols = np.meshgrid(np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64), indexing="ij")
    return np.stack([cols, rows])[None]


AFFINE_CASES = [dict(angle=a, translate_x=tx, translate_y=ty, scale=s, shear_x=shx, shear_y=shy)
                for a, tx, ty, s, shx, shy in [(0, 0, 0, 1, 0, 0), (30, 0, 0, 1, 0, 0), (-75, 2, -1, 1, 0, 0),
                                               (0, 0, 0, 1.7, 0, 0), (10, 1, 3, 0.6, 0, 0), (0, 0, 0, 1, 25, 0),
                                               (0, 0, 0, 1, 0, -20), (40, -2, 1, 1.3, 15, 10)]]


@pytest.mark.parametrize("params", AFFINE_CASES)
@pytest.mark.parametrize("shape", [(9, 11), (10, 10)])
def test_affine_geometry_on_ramp_images(params, shape):
    height, width = shape
    out = T.RandomAffine(0).apply(ramp(height, width), **params)[0]
    center = np.array([(width - 1) / 2, (height - 1) / 2])
    inverse = np.linalg.inv(forward_matrix(params["angle"], params["translate_x"], params["translate_y"],
                                           params["scale"], params["shear_x"], params["shear_y"]))
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    points = np.stack([cols - center[0], rows - center[1], np.ones_like(cols)]).reshape(3, -1)
    src = (inverse @ points)[:2] + center[:, None]
    inside = (src[0] >= 0) & (src[0] <= width - 1) & (src[1] >= 0) & (src[1] <= height - 1)
    assert inside.sum() > 0.2 * height * width
    np.testing.assert_allclose(out.reshape(2, -1)[:, inside], src[:, inside], atol=1e-9, rtol=0)


def test_rotation_about_a_chosen_center():
    height, width, angle = 8, 10, 33.0
    out = T.RandomRotation(0, center=(2.5, 1.5)).apply(ramp(height, width), angle=angle)[0]
    # center (2.5, 1.5) in torchvision's coordinates is pixel index (2, 1); counter-clockwise = affine with -angle
    inverse = np.linalg.inv(forward_matrix(-angle, 0, 0, 1, 0, 0))
    c = np.array([2.0, 1.0])
    for row, col in [(1, 2), (4, 3), (3, 6)]:
        src = inverse[:2, :2] @ (np.array([col, row]) - c) + c
        np.testing.assert_allclose(out[:, row, col], src, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
def test_sampler_matches_torch_grid_sample(dtype, seed):
    rng = np.random.default_rng(seed)
    n, c, h, w = 3, 2, 5 + seed, 7
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    src_x = rng.uniform(-2.5, w + 1.5, (n, 4, 6))
    src_y = rng.uniform(-2.5, h + 1.5, (n, 4, 6))
    ours = sample(x, src_x, src_y)
    grid = np.stack([(2 * src_x + 1) / w - 1, (2 * src_y + 1) / h - 1], axis=-1).astype(dtype)
    theirs = F.grid_sample(torch.from_numpy(x), torch.from_numpy(grid), mode="bilinear", padding_mode="zeros",
                           align_corners=False).numpy()
    assert ours.dtype == dtype
    assert_close(ours, theirs, TOLERANCE[np.dtype(dtype)], "bilinear sampling")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("angle", [17.0, -48.0, 123.0])
def test_rotation_matches_torch_affine_grid_on_square_images(angle, dtype):
    x = np.random.default_rng(0).random((2, 3, 12, 12)).astype(dtype)
    ours = T.RandomRotation(0).apply(x, angle=angle)
    a = np.radians(angle)
    theta = torch.tensor([[[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0]]] * 2, dtype=torch.float64)
    grid = F.affine_grid(theta, (2, 3, 12, 12), align_corners=False).to(torch.from_numpy(x).dtype)
    theirs = F.grid_sample(torch.from_numpy(x), grid, padding_mode="zeros", align_corners=False).numpy()
    assert ours.dtype == dtype
    assert_close(ours, theirs, TOLERANCE[np.dtype(dtype)], f"rotation by {angle}")


def test_fill_nearest_and_uint8():
    ones = np.ones((1, 3, 9, 9))
    out = T.RandomRotation(0, fill=(0.5, 0.25, 0)).apply(ones, angle=45.0)
    assert out[0, :, 0, 0].tolist() == [0.5, 0.25, 0.0] and np.all(out[:, :, 4, 4] == 1)
    near = T.RandomRotation(0, interpolation="nearest").apply(ones, angle=30.0)
    assert set(np.unique(near)) <= {0.0, 1.0}
    x = np.random.default_rng(0).integers(0, 256, (4, 1, 10, 10), dtype=np.uint8)
    out = T.RandomAffine(20, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5)(x)
    assert out.dtype == np.uint8 and out.shape == x.shape


def test_each_image_gets_its_own_angle_and_seed_repeats():
    x = np.broadcast_to(ramp(9, 9), (16, 2, 9, 9)).copy()
    rotate = T.RandomRotation(40)
    params = rotate.draw(16, x.shape, np.random.default_rng(1))
    assert len(np.unique(params["angle"])) == 16 and np.all(np.abs(params["angle"]) <= 40)
    a, b = rotate(x, rng=np.random.default_rng(1)), rotate(x, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, rotate.apply(x, **params))
    assert len({out.tobytes() for out in a}) == 16


def test_affine_parameter_ranges():
    affine = T.RandomAffine((-5, 10), translate=(0.2, 0.1), scale=(0.5, 0.8), shear=(1, 2, 3, 4))
    p = affine.draw(500, (500, 1, 20, 30), np.random.default_rng(0))
    assert -5 <= p["angle"].min() and p["angle"].max() <= 10
    assert np.all(np.abs(p["translate_x"]) <= 6) and np.all(np.abs(p["translate_y"]) <= 2)
    assert np.all(p["translate_x"] == np.round(p["translate_x"]))
    assert 0.5 <= p["scale"].min() and p["scale"].max() <= 0.8
    assert 1 <= p["shear_x"].min() and p["shear_x"].max() <= 2 and 3 <= p["shear_y"].min() <= 4


def test_warp_argument_errors():
    with pytest.raises(ValueError, match="expand=True is not supported"):
        T.RandomRotation(10, expand=True)
    with pytest.raises(ValueError, match="RandomRotation: degrees must be non-negative, got -3"):
        T.RandomRotation(-3)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        T.RandomAffine(3, interpolation="bicubic")
    with pytest.raises(ValueError, match=r"translate must be \(a, b\) with values in \[0, 1\]"):
        T.RandomAffine(3, translate=(2, 0))
    with pytest.raises(ValueError, match="scale must be"):
        T.RandomAffine(3, scale=(0, 1))
    with pytest.raises(ValueError, match="shear must be a number, or 2 or 4 numbers"):
        T.RandomAffine(3, shear=(1, 2, 3))
    with pytest.raises(ValueError, match="expected a number or 3 values"):
        T.RandomRotation(10, fill=(1, 2))(np.zeros((3, 4, 4)))
