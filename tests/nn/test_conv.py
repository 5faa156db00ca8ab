"""Conv2d: parity with torch.nn.Conv2d over many random configurations (both dtypes), numerical
gradients, every documented error, the inference path, dtype, accumulation and repr."""

import warnings

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from strided.nn.conv import PADDING_MODES
from tests.helpers import check_numerical_gradients, check_torch_parity

DTYPES = [np.float64, np.float32]


def _fits(cfg) -> bool:
    """Whether PyTorch accepts the configuration: output not empty, reflect/circular padding small enough."""
    (kh, kw), (dh, dw) = cfg["kernel"], cfg["dilation"]
    _, _, h, w = cfg["shape"]
    padding = cfg["padding"]
    if padding == "valid":
        ph = pw = 0
    elif padding == "same":
        ph, pw = (dh * (kh - 1) + 1) // 2, (dw * (kw - 1) + 1) // 2  # the larger side
    else:
        ph, pw = padding
    if cfg["padding_mode"] == "reflect" and (ph >= h or pw >= w):
        return False
    if cfg["padding_mode"] == "circular" and (ph > h or pw > w):
        return False
    pad_h = 2 * ph if padding != "same" else dh * (kh - 1)
    pad_w = 2 * pw if padding != "same" else dw * (kw - 1)
    return h + pad_h >= dh * (kh - 1) + 1 and w + pad_w >= dw * (kw - 1) + 1


def _random_configs(count, seed):
    """Kernels 1..7 (often rectangular), strides 1..3, int/pair/'same'/'valid' padding, dilations 1..3,
    groups (depthwise among them), odd sizes, batch 1, every padding mode, bias on and off."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        groups = int(rng.choice([1, 1, 1, 2, 3]))
        c_in = groups * int(rng.integers(1, 4))
        depthwise = rng.integers(5) == 0
        if depthwise:
            groups, c_out = c_in, c_in * int(rng.integers(1, 3))
        else:
            c_out = groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 8, 2))
        if rng.integers(3) == 0:
            kernel = (kernel[0], kernel[0])
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        dilation = tuple(int(d) for d in rng.choice([1, 1, 2, 3], 2))
        padding = ["int", "pair", "same", "valid"][int(rng.integers(4))]
        if padding == "int":
            padding = (int(rng.integers(0, 4)),) * 2
        elif padding == "pair":
            padding = tuple(int(p) for p in rng.integers(0, 4, 2))
        if padding == "same":
            stride = (1, 1)
        cfg = dict(c_in=c_in, c_out=c_out, kernel=kernel, stride=stride, padding=padding, dilation=dilation,
                   groups=groups, bias=bool(rng.integers(4)), padding_mode=PADDING_MODES[int(rng.integers(4))],
                   shape=(int(rng.integers(1, 4)), c_in, *(int(s) for s in rng.integers(1, 14, 2))))
        if _fits(cfg):
            configs.append(cfg)
    return configs


CONFIGS = _random_configs(70, seed=7) + [
    # The benchmark's shapes (smaller batch), a depthwise and a strided reflect conv, a 1x1 and a 7x7.
    dict(c_in=1, c_out=8, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, bias=True,
         padding_mode="zeros", shape=(2, 1, 28, 28)),
    dict(c_in=8, c_out=16, kernel=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1, bias=True,
         padding_mode="zeros", shape=(2, 8, 14, 14)),
    dict(c_in=6, c_out=6, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=6, bias=False,
         padding_mode="zeros", shape=(1, 6, 9, 11)),
    dict(c_in=3, c_out=4, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1, bias=True,
         padding_mode="reflect", shape=(2, 3, 7, 8)),
    dict(c_in=4, c_out=5, kernel=(1, 1), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True,
         padding_mode="zeros", shape=(3, 4, 5, 6)),
    dict(c_in=2, c_out=3, kernel=(7, 7), stride=(3, 3), padding="valid", dilation=(1, 1), groups=1, bias=True,
         padding_mode="zeros", shape=(1, 2, 7, 13)),
    dict(c_in=2, c_out=2, kernel=(4, 2), stride=(1, 1), padding="same", dilation=(1, 3), groups=1, bias=True,
         padding_mode="circular", shape=(2, 2, 5, 8)),
]


def _pair(cfg):
    args = dict(in_channels=cfg["c_in"], out_channels=cfg["c_out"], kernel_size=cfg["kernel"], stride=cfg["stride"],
                padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"],
                padding_mode=cfg["padding_mode"])
    return nn.Conv2d(**args), torch.nn.Conv2d(**args)


def _input(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_parity_with_torch(cfg, dtype):
    st.manual_seed(0)
    ours, theirs = _pair(cfg)
    ours.to(dtype)
    with warnings.catch_warnings():  # PyTorch warns that 'same' with an even kernel pads a copy
        warnings.simplefilter("ignore", UserWarning)
        check_torch_parity(ours, theirs, _input(cfg["shape"], dtype))


@pytest.mark.parametrize("cfg", [CONFIGS[i] for i in (0, 3, 5)] + CONFIGS[-5:-1])
def test_numerical_gradients(cfg):
    st.manual_seed(1)
    ours, _ = _pair(cfg)
    check_numerical_gradients(ours, _input(cfg["shape"], np.float64, seed=2))


def test_default_init_is_pytorchs_uniform_bound():
    st.manual_seed(0)
    conv = nn.Conv2d(4, 6, (3, 5), groups=2)
    bound = 1 / np.sqrt(2 * 3 * 5)  # fan_in = C_in/groups * K_h * K_w
    assert conv.weight.shape == (6, 2, 3, 5) and conv.bias.shape == (6,)
    assert conv.weight.dtype == np.float32
    assert np.abs(conv.weight.data).max() <= bound and np.abs(conv.weight.data).max() > 0.8 * bound
    assert np.abs(conv.bias.data).max() <= bound
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert list(nn.Conv2d(4, 6, 3, bias=False).state_dict()) == ["weight"]
    assert st.param_count(conv) == (3 * 5 * 4 // 2 + 1) * 6


@pytest.mark.parametrize("kwargs", [
    dict(), dict(kernel_size=(3, 5), stride=2, padding=1, dilation=2, bias=False, padding_mode="reflect"),
    dict(padding="same", groups=2), dict(padding="valid"), dict(padding=(0, 2), padding_mode="circular"),
])
def test_repr_matches_pytorch(kwargs):
    args = dict(in_channels=4, out_channels=8, kernel_size=3) | kwargs
    assert repr(nn.Conv2d(**args)) == repr(torch.nn.Conv2d(**args))
    assert nn.Conv2d(**args).label() == "Conv2d(4 -> 8)"


@pytest.mark.parametrize("dtype", DTYPES)
def test_output_and_gradients_keep_the_dtype(dtype):
    conv = nn.Conv2d(2, 3, 3, padding=1, padding_mode="replicate").to(dtype)
    y = conv(_input((2, 2, 5, 5), dtype))
    grad_x = conv.backward(np.ones_like(y))
    assert y.dtype == grad_x.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == dtype


def test_gradients_accumulate_over_two_backwards():
    conv = nn.Conv2d(2, 3, 3, stride=2).double()
    x = _input((2, 2, 7, 6), np.float64)
    g = _input((2, 3, 3, 2), np.float64, seed=1)
    conv(x)
    first = conv.backward(g)
    once_w, once_b = conv.weight.grad.copy(), conv.bias.grad.copy()
    conv(x)
    second = conv.backward(g)
    np.testing.assert_allclose(conv.weight.grad, 2 * once_w, rtol=1e-12)
    np.testing.assert_allclose(conv.bias.grad, 2 * once_b, rtol=1e-12)
    np.testing.assert_array_equal(first, second)


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match=r"Conv2d\(2 -> 3\).*forward"):
        nn.Conv2d(2, 3, 3).backward(np.zeros((1, 3, 2, 2), np.float32))


def test_no_grad_keeps_nothing_and_gives_the_same_output():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = _input((2, 3, 6, 6), np.float32)
    with st.no_grad():
        y_inference = conv(x)
    assert conv._saved is None
    with pytest.raises(RuntimeError, match="forward"):
        conv.backward(np.ones_like(y_inference))
    np.testing.assert_array_equal(y_inference, conv(x))


def test_outputs_are_not_overwritten_by_later_calls():
    """Work buffers are reused between calls; what a call returns must not be one of them."""
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    x1, x2 = _input((2, 2, 5, 5), np.float64), _input((2, 2, 5, 5), np.float64, seed=1)
    y1 = conv(x1)
    g1 = conv.backward(np.ones_like(y1))
    y1_copy, g1_copy = y1.copy(), g1.copy()
    conv.backward(np.ones_like(conv(x2)))
    np.testing.assert_array_equal(y1, y1_copy)
    np.testing.assert_array_equal(g1, g1_copy)


@pytest.mark.parametrize("kwargs, match", [
    (dict(in_channels=4, out_channels=6, groups=4), "divisible by groups"),
    (dict(in_channels=3, out_channels=6, groups=2), "divisible by groups"),
    (dict(groups=0), "groups must be a positive integer"),
    (dict(padding="full"), "padding string must be 'same' or 'valid'"),
    (dict(padding="same", stride=2), "padding='same' needs stride 1"),
    (dict(padding_mode="mirror"), "padding_mode must be one of"),
    (dict(kernel_size=0), "kernel_size must be"),
    (dict(stride=(1, 0)), "stride must be"),
    (dict(padding=-1), "padding must be"),
    (dict(dilation=1.5), "dilation must be"),
])
def test_constructor_errors(kwargs, match):
    args = dict(in_channels=4, out_channels=4, kernel_size=3) | kwargs
    with pytest.raises(ValueError, match=match):
        nn.Conv2d(**args)


@pytest.mark.parametrize("conv, x, match", [
    (nn.Conv2d(3, 4, 3), np.zeros((3, 8, 8), np.float32), r"Conv2d\(3 -> 4\): expected input of shape \(N, 3, H, W\)"),
    (nn.Conv2d(3, 4, 3), np.zeros((2, 1, 8, 8), np.float32), r"expected input of shape \(N, 3, H, W\), got \(2, 1"),
    (nn.Conv2d(3, 4, 5), np.zeros((1, 3, 4, 8), np.float32), r"Conv2d\(3 -> 4\): the kernel spans 5x5.*larger"),
    (nn.Conv2d(3, 4, 3, dilation=3), np.zeros((1, 3, 6, 6), np.float32), "kernel spans 7x7"),
    (nn.Conv2d(3, 4, 3, padding=3, padding_mode="reflect"), np.zeros((1, 3, 3, 8), np.float32),
     r"Conv2d\(3 -> 4\): reflect padding must be smaller than the input height 3"),
    (nn.Conv2d(3, 4, 3, padding=4, padding_mode="circular"), np.zeros((1, 3, 8, 3), np.float32),
     "circular padding must be at most the input width 3"),
    (nn.Conv2d(3, 4, 3), np.zeros((1, 3, 8, 8), np.float64), r"input dtype float64 does not match .* float32"),
    (nn.Conv2d(3, 4, 3), np.zeros((1, 3, 8, 8), np.int64), "floating-point"),
])
def test_forward_errors(conv, x, match):
    with pytest.raises(ValueError, match=match):
        conv(x)


def test_backward_rejects_a_gradient_of_the_wrong_shape():
    conv = nn.Conv2d(1, 2, 3)
    conv(np.zeros((1, 1, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d\(1 -> 2\): backward expected a gradient of shape \(1, 2, 3, 3\)"):
        conv.backward(np.zeros((1, 2, 5, 5), np.float32))
