"""ConvTranspose2d: parity with torch.nn.ConvTranspose2d over random configurations (stride, padding,
output_padding, groups, dilation, rectangular kernels; both dtypes), output_size, numerical gradients,
errors, initialisation and a model file round trip."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from strided.functional.conv_transpose import conv_transpose2d
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.nn.roundtrip import assert_round_trip


def _random_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 2, 3]))
        c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.choice([1, 1, 2, 3], 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True))
        shape = (int(rng.integers(1, 4)), c_in, *(int(s) for s in rng.integers(1, 9, 2)))
        out = [(n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
               zip(shape[2:], stride, padding, dilation, kernel, output_padding, strict=True)]
        if min(out) >= 1:
            configs.append(dict(in_channels=c_in, out_channels=c_out, kernel_size=kernel, stride=stride,
                                padding=padding, output_padding=output_padding, groups=groups,
                                dilation=dilation, bias=bool(rng.integers(4)), shape=shape))
    return configs


CONFIGS = _random_configs(40, seed=16) + [
    # A U-Net decoder's 2x2 stride-2 upsampling, DCGAN's 4x4 stride 2 padding 1, a depthwise one.
    dict(in_channels=8, out_channels=4, kernel_size=2, stride=2, padding=0, output_padding=0, groups=1,
         dilation=1, bias=True, shape=(2, 8, 7, 7)),
    dict(in_channels=6, out_channels=3, kernel_size=4, stride=2, padding=1, output_padding=0, groups=1,
         dilation=1, bias=False, shape=(2, 6, 5, 4)),
    dict(in_channels=4, out_channels=4, kernel_size=3, stride=2, padding=1, output_padding=1, groups=4,
         dilation=1, bias=True, shape=(1, 4, 6, 5)),
]


def _layers(cfg, dtype):
    kwargs = {k: v for k, v in cfg.items() if k != "shape"}
    st.manual_seed(0)
    return nn.ConvTranspose2d(**kwargs, dtype=dtype), torch.nn.ConvTranspose2d(**kwargs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_with_torch(dtype):
    rng = np.random.default_rng(1)
    for cfg in CONFIGS:
        ours, theirs = _layers(cfg, dtype)
        x = rng.standard_normal(cfg["shape"]).astype(dtype)
        try:
            check_torch_parity(ours, theirs, x)
        except AssertionError as error:
            raise AssertionError(f"{cfg}: {error}") from None


@pytest.mark.parametrize("cfg", CONFIGS[-3:] + CONFIGS[:3], ids=lambda c: str(c["shape"]))
def test_numerical_gradients(cfg):
    ours, _ = _layers(cfg, np.float64)
    x = np.random.default_rng(2).standard_normal(cfg["shape"])
    check_numerical_gradients(ours, x, max_checks=25)


def test_output_size_chooses_output_padding_as_torch():
    ours = nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1, dtype=np.float64)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=3, padding=1).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 5))
    for size in [(10, 13), (11, 14), (12, 15), [2, 2, 12, 13]]:
        expected = theirs(torch.from_numpy(x), output_size=list(size)).detach().numpy()
        np.testing.assert_allclose(ours(x, output_size=size), expected, rtol=1e-12, atol=1e-12)
    ours.backward(np.ones((2, 2, 12, 13)))  # the gradient of the last call's shape
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3 -> 2\): requested an output size of \(13, 13\), but "
                                         r"valid sizes range from \(10, 13\) to \(12, 15\)"):
        ours(x, output_size=(13, 13))


def test_functional_matches_torch():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 4, 5, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(6)
    expected = torch.nn.functional.conv_transpose2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b),
                                                    stride=2, padding=(1, 0), output_padding=1, groups=2,
                                                    dilation=(1, 2))
    ours = conv_transpose2d(x, w, b, stride=2, padding=(1, 0), output_padding=1, groups=2, dilation=(1, 2))
    np.testing.assert_allclose(ours, expected.numpy(), rtol=1e-12, atol=1e-12)


def test_initialisation_has_torchs_bounds():
    layer = nn.ConvTranspose2d(4, 6, 3, groups=2)
    bound = 1 / np.sqrt(3 * 3 * 3)  # fan_in = (C_out / groups) * K_h * K_w, from the weight's shape
    assert layer.weight.shape == (4, 3, 3, 3) and layer.bias.shape == (6,)
    assert np.abs(layer.weight.data).max() <= bound and np.abs(layer.bias.data).max() <= bound


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "must both be divisible by groups"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, stride=2, output_padding=2), "output_padding"),
    (dict(in_channels=2, out_channels=2, kernel_size=0), "kernel_size must be"),
    (dict(in_channels=2, out_channels=2, kernel_size=3, padding_mode="reflect"), "only padding_mode='zeros'"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.ConvTranspose2d(**kwargs)


def test_forward_errors_name_the_layer():
    layer = nn.ConvTranspose2d(3, 2, 3, padding=2)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3 -> 2\): expected input of shape \(N, 3, H, W\)"):
        layer(np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3 -> 2\): the output would be -1x-1"):
        layer(np.zeros((1, 3, 1, 1), np.float32))
    layer(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(1, 2, 2, 2\)"):
        layer.backward(np.zeros((1, 2, 4, 4), np.float32))


def test_model_file_round_trip(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                          nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1, bias=False))
    loaded = assert_round_trip(model, np.random.default_rng(5).standard_normal((1, 3, 8, 8)).astype(np.float32),
                               tmp_path)
    assert loaded[2].output_padding == (1, 1) and loaded[2].bias is None
