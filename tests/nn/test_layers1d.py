"""Conv1d and the 1-d pools: parity with PyTorch on random configurations (both dtypes), numerical
gradients, state dict shapes, errors and a model file round trip."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.nn.roundtrip import assert_round_trip

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_configs(count, seed):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 2, 3]))
        kernel, stride, dilation = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.choice([1, 1, 2, 3]))
        padding = ["int", "same", "valid"][int(rng.integers(3))]
        padding = int(rng.integers(0, 3)) if padding == "int" else padding
        if padding == "same":
            stride = 1
        length = int(rng.integers(1, 16))
        mode = PADDING_MODES[int(rng.integers(4))]
        pad = {"valid": 0, "same": dilation * (kernel - 1) // 2 + 1}.get(padding, padding)
        total = {"valid": 0, "same": dilation * (kernel - 1)}.get(padding, 2 * padding if isinstance(padding, int)
                                                                 else 0)
        if length + total < dilation * (kernel - 1) + 1 or (mode != "zeros" and pad >= length):
            continue
        cfg = dict(in_channels=groups * int(rng.integers(1, 3)), out_channels=groups * int(rng.integers(1, 3)),
                   kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                   bias=bool(rng.integers(4)), padding_mode=mode)
        configs.append((cfg, (int(rng.integers(1, 4)), cfg["in_channels"], length)))
    return configs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_conv1d_parity(dtype):
    rng = np.random.default_rng(0)
    for cfg, shape in _conv_configs(30, seed=1):
        st.manual_seed(0)
        ours = nn.Conv1d(**cfg, dtype=dtype)
        assert ours.weight.shape == (cfg["out_channels"], cfg["in_channels"] // cfg["groups"], cfg["kernel_size"])
        try:
            check_torch_parity(ours, torch.nn.Conv1d(**cfg), rng.standard_normal(shape).astype(dtype))
        except AssertionError as error:
            raise AssertionError(f"{cfg} on {shape}: {error}") from None


def _pool_cases(seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < 24:
        kernel, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        padding, length = int(rng.integers(0, kernel // 2 + 1)), int(rng.integers(1, 14))
        ceil_mode = bool(rng.integers(2))
        dilation = int(rng.choice([1, 2]))
        if length + 2 * padding < dilation * (kernel - 1) + 1:
            continue
        cases.append(("MaxPool1d", dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                                        ceil_mode=ceil_mode), length))
        if length + 2 * padding >= kernel:
            cases.append(("AvgPool1d", dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                                            count_include_pad=bool(rng.integers(2))), length))
        cases.append((str(rng.choice(["AdaptiveAvgPool1d", "AdaptiveMaxPool1d"])),
                      dict(output_size=int(rng.integers(1, 8))), length))
    return cases


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pool1d_parity(dtype):
    rng = np.random.default_rng(2)
    for name, kwargs, length in _pool_cases(seed=3):
        x = rng.standard_normal((2, 3, length)).astype(dtype)
        try:
            check_torch_parity(getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), x)
        except AssertionError as error:
            raise AssertionError(f"{name}({kwargs}) on length {length}: {error}") from None


@pytest.mark.parametrize("layer", [
    nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2), nn.Conv1d(3, 2, 2, dilation=2, padding="same",
                                                                 padding_mode="reflect"),
    nn.MaxPool1d(3, 2, padding=1), nn.AvgPool1d(3, 2, padding=1, count_include_pad=False),
    nn.AdaptiveAvgPool1d(3), nn.AdaptiveMaxPool1d(4),
], ids=lambda layer: layer.label())
def test_numerical_gradients(layer):
    channels = layer.in_channels if isinstance(layer, nn.Conv1d) else 2
    check_numerical_gradients(layer, np.random.default_rng(4).standard_normal((2, channels, 9)), max_checks=30)


def test_conv1d_state_dict_loads_torchs_and_to_dtype_keeps_it_in_step():
    theirs = torch.nn.Conv1d(4, 6, 3, groups=2)
    ours = nn.Conv1d(4, 6, 3, groups=2)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    ours.double()
    x = np.random.default_rng(5).standard_normal((2, 4, 10))
    expected = theirs.double()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(ours(x), expected, rtol=1e-12, atol=1e-12)
    ours.backward(np.ones((2, 6, 8)))
    assert ours.weight.grad.shape == (6, 2, 3) and ours.weight.grad.dtype == np.float64


def test_errors_name_the_1d_layer():
    with pytest.raises(ValueError, match=r"Conv1d\(3 -> 2\): expected input of shape \(N, 3, L\), got \(2, 3, 4, 4\)"):
        nn.Conv1d(3, 2, 3)(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"Conv1d\(3 -> 2\): the kernel spans"):
        nn.Conv1d(3, 2, 5)(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="Conv1d: in_channels"):
        nn.Conv1d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match=r"MaxPool1d\(kernel_size=3.*expected input of shape \(N, C, L\)"):
        nn.MaxPool1d(3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="return_indices"):
        nn.MaxPool1d(3, return_indices=True)
    layer = nn.AvgPool1d(2)
    layer(np.zeros((1, 2, 6), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(1, 2, 3\)"):
        layer.backward(np.zeros((1, 2, 6), np.float32))


def test_model_file_round_trip(tmp_path):
    model = nn.Sequential(nn.Conv1d(2, 4, 3, padding="same", bias=False), nn.ReLU(), nn.MaxPool1d(2),
                          nn.AvgPool1d(2, 1), nn.AdaptiveMaxPool1d(3), nn.AdaptiveAvgPool1d(2))
    assert_round_trip(model, np.random.default_rng(6).standard_normal((2, 2, 12)).astype(np.float32), tmp_path)
