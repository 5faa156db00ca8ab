"""nn.Upsample: parity with torch.nn.Upsample (forward, input gradient), numerical gradients, errors,
and a model file round trip."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.nn.roundtrip import assert_round_trip

CONFIGS = [
    dict(scale_factor=2),
    dict(scale_factor=(2, 3), mode="nearest"),
    dict(size=(7, 5), mode="nearest-exact"),
    dict(scale_factor=2, mode="bilinear"),
    dict(scale_factor=1.7, mode="bilinear", align_corners=True),
    dict(size=(3, 11), mode="bilinear", align_corners=False),
    dict(scale_factor=0.6, mode="bilinear", recompute_scale_factor=True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_parity_with_torch(kwargs, dtype):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(dtype)
    check_torch_parity(nn.Upsample(**kwargs), torch.nn.Upsample(**kwargs), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_1d_linear_and_old_names(dtype):
    x = np.random.default_rng(1).standard_normal((2, 3, 7)).astype(dtype)
    linear = dict(scale_factor=2.5, mode="linear")
    check_torch_parity(nn.Upsample(**linear), torch.nn.Upsample(**linear), x)
    x4 = np.random.default_rng(2).standard_normal((1, 2, 4, 5)).astype(dtype)
    check_torch_parity(nn.UpsamplingBilinear2d(scale_factor=2), torch.nn.UpsamplingBilinear2d(scale_factor=2), x4)
    check_torch_parity(nn.UpsamplingNearest2d(size=(6, 9)), torch.nn.UpsamplingNearest2d(size=(6, 9)), x4)


@pytest.mark.parametrize("kwargs", [CONFIGS[1], CONFIGS[4], CONFIGS[6]], ids=str)
def test_numerical_gradients(kwargs):
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 5))
    check_numerical_gradients(nn.Upsample(**kwargs), x)


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        nn.Upsample()
    with pytest.raises(ValueError, match="mode must be one of"):
        nn.Upsample(scale_factor=2, mode="cubic")
    layer = nn.Upsample(scale_factor=2, mode="bilinear")
    with pytest.raises(ValueError, match=r"Upsample\(scale_factor=2.0, mode='bilinear'\): mode 'bilinear' expects "
                                         r"input of shape \(N, C, H, W\), got rank 3, got input of shape \(1, 2, 3\)"):
        layer(np.zeros((1, 2, 3)))
    layer(np.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"expected a gradient of shape \(1, 2, 6, 6\)"):
        layer.backward(np.zeros((1, 2, 3, 3)))


def test_model_file_round_trip(tmp_path):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Upsample(scale_factor=(2, 1.5), mode="bilinear"),
                          nn.Upsample(size=[5, 4]))
    assert_round_trip(model, np.random.default_rng(4).standard_normal((1, 2, 4, 4)).astype(np.float32), tmp_path)
    assert st.load(tmp_path / "layer.safetensors")[2].size == (5, 4)
