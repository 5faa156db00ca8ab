"""LayerNorm, LayerNorm2d and GroupNorm: parity with PyTorch on random shapes (both dtypes, with and
without affine parameters), numerical gradients, errors and a model file round trip."""

import numpy as np
import pytest
import torch

from strided import nn
from strided.functional.normalization import group_norm, layer_norm
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.nn.roundtrip import assert_round_trip


def _randomise(layer, rng):
    """Non-trivial affine parameters (the defaults 1 and 0 would hide a wrong weight gradient's use)."""
    for p in layer.parameters():
        p.data = rng.standard_normal(p.shape).astype(p.dtype)
    return layer


def _layer_norm_cases(count, seed):
    rng = np.random.default_rng(seed)
    while count:
        normalized = tuple(int(s) for s in rng.integers(1, 6, int(rng.integers(1, 4))))
        # Rows of 1 value: x_hat = 0, the gradients are 0 up to rounding noise. Rows of 2: x_hat = (a, -a) and
        # dx = inv_std * (g1 - g2) / 2 * eps / (var + eps), all cancellation (float32 noise on both sides).
        if np.prod(normalized) < 3:
            continue
        count -= 1
        leading = tuple(int(s) for s in rng.integers(1, 4, int(rng.integers(0, 3))))
        kwargs = dict(eps=float(rng.choice([1e-5, 1e-3, 0.1])), elementwise_affine=bool(rng.integers(4)),
                      bias=bool(rng.integers(3)))
        yield normalized, leading + normalized, kwargs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_parity(dtype):
    rng = np.random.default_rng(0)
    for normalized, shape, kwargs in _layer_norm_cases(20, seed=1):
        ours = _randomise(nn.LayerNorm(normalized, dtype=dtype, **kwargs), rng)
        x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
        check_torch_parity(ours, torch.nn.LayerNorm(normalized, **kwargs), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_group_norm_parity(dtype):
    rng = np.random.default_rng(2)
    for _ in range(25):
        groups = int(rng.integers(1, 4))
        channels = groups * int(rng.integers(1, 4))
        shape = (int(rng.integers(1, 4)), channels) + tuple(int(s) for s in rng.integers(1, 6, int(rng.integers(0, 3))))
        if np.prod(shape[1:]) // groups < 3:  # 1 or 2 values per group: see _layer_norm_cases
            continue
        kwargs = dict(eps=float(rng.choice([1e-5, 0.1])), affine=bool(rng.integers(4)))
        ours = _randomise(nn.GroupNorm(groups, channels, dtype=dtype, **kwargs), rng)
        x = (rng.standard_normal(shape) * 2 - 1).astype(dtype)
        check_torch_parity(ours, torch.nn.GroupNorm(groups, channels, **kwargs), x)


class _TorchLayerNorm2d(torch.nn.LayerNorm):
    """torchvision.models.convnext.LayerNorm2d, written out (permute, layer norm, permute back)."""

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_2d_normalises_channels_at_each_pixel(dtype):
    rng = np.random.default_rng(3)
    ours = _randomise(nn.LayerNorm2d(6, eps=1e-6, dtype=dtype), rng)
    x = rng.standard_normal((2, 6, 4, 5)).astype(dtype)
    check_torch_parity(ours, _TorchLayerNorm2d(6, eps=1e-6), x)


@pytest.mark.parametrize("layer, shape", [
    (nn.LayerNorm((3, 4)), (2, 5, 3, 4)), (nn.LayerNorm(5, bias=False), (3, 5)), (nn.LayerNorm2d(3), (2, 3, 2, 3)),
    (nn.GroupNorm(2, 4), (2, 4, 3, 3)), (nn.GroupNorm(3, 3, affine=False), (2, 3, 5)),
], ids=str)
def test_numerical_gradients(layer, shape):
    rng = np.random.default_rng(4)
    _randomise(layer.to(np.float64), rng)
    check_numerical_gradients(layer, rng.standard_normal(shape), max_checks=30)


def test_functional_forms_match_torch():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 6, 3, 4)), rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    expected = torch.nn.functional.layer_norm(*map(torch.from_numpy, (x, )), (3, 4), torch.from_numpy(w),
                                              torch.from_numpy(b))
    np.testing.assert_allclose(layer_norm(x, (3, 4), w, b), expected.numpy(), rtol=1e-12, atol=1e-12)
    w, b = rng.standard_normal(6), rng.standard_normal(6)
    expected = torch.nn.functional.group_norm(torch.from_numpy(x), 3, torch.from_numpy(w), torch.from_numpy(b))
    np.testing.assert_allclose(group_norm(x, 3, w, b), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_state_dict_names_and_defaults():
    assert list(nn.LayerNorm((2, 3)).state_dict()) == ["weight", "bias"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).state_dict()) == []
    assert list(nn.LayerNorm(4, bias=False).state_dict()) == ["weight"]
    gn = nn.GroupNorm(2, 4)
    assert list(gn.state_dict()) == ["weight", "bias"] and gn.eps == 1e-5
    np.testing.assert_array_equal(gn.weight.data, np.ones(4, np.float32))


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"LayerNorm\(3, 4\): expected input of shape \(\*, 3, 4\), got \(2, 4, 3\)"):
        nn.LayerNorm((3, 4))(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"LayerNorm2d\(3\): expected input of shape \(N, 3, H, W\), got \(2, 4, 3\)"):
        nn.LayerNorm2d(3)(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r"GroupNorm\(2, 4\): expected input of shape \(N, 4, \*\), got \(2, 3, 5\)"):
        nn.GroupNorm(2, 4)(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="does not match the parameters' float32"):
        nn.GroupNorm(2, 4)(np.zeros((2, 4, 5)))
    layer = nn.LayerNorm2d(3)
    layer(np.zeros((2, 3, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(2, 3, 2, 2\)"):
        layer.backward(np.zeros((2, 2, 2, 3), np.float32))


def test_model_file_round_trip(tmp_path):
    rng = np.random.default_rng(6)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.GroupNorm(2, 4), nn.LayerNorm2d(4), nn.Flatten(), nn.LayerNorm(16))
    _randomise(model, rng)
    assert_round_trip(model, rng.standard_normal((2, 2, 4, 4)).astype(np.float32), tmp_path)
