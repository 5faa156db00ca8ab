"""functional.interpolate: forward and backward against torch.nn.functional.interpolate on random
configurations (every mode, size or scale factor, align_corners, both dtypes), and its errors."""

import numpy as np
import pytest
import torch

from strided.functional import interpolate, interpolate_backward
from strided.functional.interpolate import interpolation_weights
from tests.helpers import TOLERANCE, assert_close


def _random_call(rng):
    mode = str(rng.choice(["nearest", "nearest-exact", "bilinear", "linear"]))
    ndim = 3 if mode == "linear" else 4 if mode == "bilinear" else int(rng.choice([3, 4]))
    spatial = tuple(int(s) for s in rng.integers(1, 20, ndim - 2))
    kwargs = {"mode": mode}
    if mode in ("linear", "bilinear"):
        kwargs["align_corners"] = bool(rng.integers(2))
    if rng.integers(2):
        kwargs["size"] = tuple(int(s) for s in rng.integers(1, 40, ndim - 2))
    else:
        while True:  # scale factors with 0 to 2 decimals, so some land on exact and some on odd sizes
            scales = tuple(float(np.round(rng.uniform(0.3, 3.5), int(rng.integers(0, 3)))) for _ in spatial)
            if all(int(n * s) >= 1 for n, s in zip(spatial, scales, strict=True)):
                break
        kwargs["scale_factor"] = scales
        if rng.integers(4) == 0:
            kwargs["recompute_scale_factor"] = True
    return (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + spatial, kwargs


def _torch_interpolate(x, kwargs):
    """PyTorch's result. Its 3-D 'nearest' forward alone skips the copy/halve shortcuts that its own
    backward and its 4-D forward take (e.g. length 3, scale 1.04): compare with the 4-D path on (N, C, 1, L)."""
    if x.ndim == 3 and kwargs["mode"] == "nearest":
        four_d = dict(kwargs)
        if "size" in kwargs:
            four_d["size"] = (1,) + kwargs["size"]
        else:
            four_d["scale_factor"] = (1.0,) + kwargs["scale_factor"]
        return torch.nn.functional.interpolate(x[:, :, None], **four_d)[:, :, 0]
    return torch.nn.functional.interpolate(x, **kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_calls_match_torch(dtype):
    rng = np.random.default_rng(16)
    tol = TOLERANCE[np.dtype(dtype)]
    for trial in range(300):
        shape, kwargs = _random_call(rng)
        x = rng.standard_normal(shape).astype(dtype)
        y = interpolate(x, **kwargs)
        x_t = torch.tensor(x, requires_grad=True)
        y_t = _torch_interpolate(x_t, kwargs)
        what = f"trial {trial}: {shape} {kwargs}"
        assert_close(y, y_t.detach().numpy(), tol, f"output, {what}")
        g = rng.standard_normal(y.shape).astype(dtype)
        y_t.backward(torch.from_numpy(g))
        grad = interpolate_backward(g, x, **kwargs)
        assert y.dtype == grad.dtype == dtype
        assert_close(grad, x_t.grad.numpy(), tol, f"input gradient, {what}")


def test_torch_3d_nearest_forward_is_the_outlier():
    """Why the test above uses PyTorch's 4-D path for 3-D 'nearest': its 3-D forward disagrees with its backward."""
    x = torch.arange(3.0).reshape(1, 1, 3)
    assert torch.nn.functional.interpolate(x, scale_factor=1.04).flatten().tolist() == [0, 0, 1]
    assert interpolate(x.numpy(), scale_factor=1.04).flatten().tolist() == [0, 1, 2]  # PyTorch's backward's map


def test_known_values():
    x = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    np.testing.assert_array_equal(interpolate(x, scale_factor=2), np.kron(x, np.ones((2, 2))))
    corners = interpolate(x, size=(3, 3), mode="bilinear", align_corners=True)
    np.testing.assert_allclose(corners[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])
    assert interpolate(x.astype(np.float32), size=5, mode="bilinear").dtype == np.float32


def test_rows_of_the_weight_matrices_sum_to_one():
    for mode in ("nearest", "nearest-exact", "linear"):
        for n, m in ((1, 5), (5, 1), (7, 3), (3, 7), (10, 10)):
            np.testing.assert_allclose(interpolation_weights(n, m, mode).sum(axis=1), 1.0, rtol=1e-15)


@pytest.mark.parametrize("kwargs, error, message", [
    ({}, ValueError, "exactly one of size and scale_factor"),
    ({"size": 4, "scale_factor": 2}, ValueError, "exactly one of size and scale_factor"),
    ({"size": 4, "mode": "bicubic"}, ValueError, "mode must be one of"),
    ({"size": 4, "mode": "linear"}, ValueError, "mode 'linear' expects input of shape (N, C, L)"),
    ({"size": 4, "align_corners": True}, ValueError, "align_corners can only be set"),
    ({"size": (4, 4, 4)}, ValueError, "size must have 2 values"),
    ({"size": 2.5}, TypeError, "size must be an int"),
    ({"scale_factor": -1.0}, ValueError, "scale_factor must be positive"),
    ({"scale_factor": 0.1}, ValueError, "sizes should be greater than 0"),
    ({"size": 4, "antialias": True}, ValueError, "antialias"),
])
def test_errors(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        interpolate(np.zeros((1, 1, 5, 5)), **kwargs)


def test_backward_checks_the_gradient_shape():
    with pytest.raises(ValueError, match=r"expected a gradient of shape \(1, 2, 6, 6\), got \(1, 2, 3, 3\)"):
        interpolate_backward(np.zeros((1, 2, 3, 3)), np.zeros((1, 2, 3, 3)), scale_factor=2)
