"""Winograd F(2x2, 3x3) equals the reference convolution (float64 1e-12: forward, dx, dW, db), stays within the
float32 parity tolerance, survives chunking, the buffer pool and 16-bit storage, and runs where the rule says."""

import numpy as np
import pytest

from strided.functional import fast, reference, storage
from strided.functional.fast import conv as fast_conv
from strided.functional.fast import conv_nhwc, winograd
from tests.helpers import TOLERANCE, rel_error

TOL = 1e-12


def _random_configs(count, seed):
    """(N, C, C_out, H, W, (left, right, top, bottom), bias): sizes 1..9 odd and even, padding 0..3 (3 > K-1:
    the input gradient then crops gy), batch 0..3, with a non-empty output."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        n, c, c_out = int(rng.integers(0, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        h, w = (int(s) for s in rng.integers(1, 10, 2))
        padding = tuple(int(p) for p in rng.integers(0, 4, 4))
        if h + padding[2] + padding[3] >= 3 and w + padding[0] + padding[1] >= 3:
            configs.append((n, c, c_out, h, w, padding, bool(rng.integers(0, 2))))
    return configs


CONFIGS = _random_configs(60, seed=18) + [(2, 3, 4, 1, 1, (1, 1, 1, 1), True), (1, 1, 1, 3, 3, (0, 0, 0, 0), False)]


def _inputs(config, dtype, seed=0):
    n, c, c_out, h, w, padding, has_bias = config
    rng = np.random.default_rng(seed)
    x, weight = rng.standard_normal((n, c, h, w)), rng.standard_normal((c_out, c, 3, 3))
    bias = rng.standard_normal(c_out) if has_bias else None
    out_shape = (n, c_out, h + padding[2] + padding[3] - 2, w + padding[0] + padding[1] - 2)
    grad = rng.standard_normal(out_shape)
    x, weight, grad = (a.astype(dtype) for a in (x, weight, grad))
    return x, weight, None if bias is None else bias.astype(dtype), padding, grad


def _reference(x, weight, bias, padding, grad):
    y, ctx = reference.conv2d_forward(x, weight, bias, (1, 1), padding, (1, 1), 1)
    return (y, *ctx.backward(grad))


def _winograd(x, weight, bias, padding, grad):
    y, ctx = winograd.conv2d_forward(x, weight, bias, padding)
    return (y, *ctx.backward(grad))


def _compare(ours, theirs, tol, what):
    for name, a, b in zip(("y", "dx", "dW", "db"), ours, theirs, strict=True):
        if b is None:
            assert a is None, f"{what}: {name} should be None"
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, f"{what}: {name} {a.shape} {a.dtype} vs {b.shape} {b.dtype}"
        err = rel_error(a, b)
        assert err <= tol, f"{what}: {name} relative error {err:.2e} > {tol:.0e}"


@pytest.mark.parametrize("config", CONFIGS, ids=[f"cfg{i}" for i in range(len(CONFIGS))])
def test_winograd_equals_the_reference_in_float64(config):
    args = _inputs(config, np.float64)
    _compare(_winograd(*args), _reference(*args), TOL, str(config))


@pytest.mark.parametrize("config", CONFIGS[::4], ids=[f"cfg{i}" for i in range(0, len(CONFIGS), 4)])
def test_winograd_in_float32_is_within_the_parity_tolerance(config):
    exact = _reference(*_inputs(config, np.float64))
    ours = _winograd(*_inputs(config, np.float32))
    for name, a, b in zip(("y", "dx", "dW", "db"), ours, exact, strict=True):
        if b is not None:
            assert a.dtype == np.float32
            assert rel_error(a, b) <= TOLERANCE[np.dtype(np.float32)], name


def test_bench_sized_layer_in_float32_is_within_the_parity_tolerance():
    """A 64 -> 64 layer (the sums run over 576 products) against float64: forward and every gradient."""
    config = (4, 64, 64, 8, 8, (1, 1, 1, 1), True)
    exact = _reference(*_inputs(config, np.float64))
    ours = _winograd(*_inputs(config, np.float32))
    for name, a, b in zip(("y", "dx", "dW", "db"), ours, exact, strict=True):
        assert rel_error(a, b) <= TOLERANCE[np.dtype(np.float32)], name


@pytest.mark.parametrize("chunk_images", [1, 2])
def test_chunks_of_images_equal_one_pass(chunk_images, monkeypatch):
    config = (5, 3, 4, 7, 6, (1, 2, 0, 1), True)
    args = _inputs(config, np.float64)
    th, tw = winograd.tiles(7 + 0 + 1 - 2, 6 + 1 + 2 - 2)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", chunk_images * 16 * (3 + 4) * th * tw * 8)
    assert len(winograd._chunks(5, 16 * (3 + 4) * th * tw * 8)) == -(-5 // chunk_images)
    _compare(_winograd(*args), _reference(*args), TOL, "chunked")


def test_pooled_buffers_keep_their_zero_border_across_calls():
    """The padded input comes from the pool with only its pixels rewritten: a second call on other data (same
    shapes) must not see the first one's pixels in its border."""
    config = (3, 40, 40, 6, 6, (1, 1, 1, 1), True)  # large enough for the pool (POOL_MIN_BYTES)
    for seed in (1, 2, 3):
        args = _inputs(config, np.float64, seed)
        _compare(_winograd(*args), _reference(*args), TOL, f"seed {seed}")
        x, weight, bias, padding, _ = args
        y, ctx = winograd.conv2d_forward(x, weight, bias, padding, need_backward=False)
        assert ctx is None and rel_error(y, _reference(*args)[0]) <= TOL


def test_one_backward_per_forward():
    x, weight, bias, padding, grad = _inputs(CONFIGS[0], np.float64)
    _, ctx = winograd.conv2d_forward(x, weight, bias, padding)
    ctx.backward(grad)
    with pytest.raises(RuntimeError, match="already ran"):
        ctx.backward(grad)


def test_sixteen_bit_storage_keeps_the_padded_input_in_float16():
    config = (2, 8, 8, 6, 6, (1, 1, 1, 1), True)
    x, weight, bias, padding, grad = _inputs(config, np.float32)
    exact = _winograd(x, weight, bias, padding, grad)
    storage.set_storage_dtype(np.float16)
    try:
        y, ctx = winograd.conv2d_forward(x, weight, bias, padding)
        assert ctx.padded.dtype == np.float16
        grads = ctx.backward(grad)
    finally:
        storage.set_storage_dtype(None)
    assert np.array_equal(y, exact[0])  # the forward is unchanged
    assert rel_error(grads[0], exact[1]) == 0  # dx does not read x
    assert 0 < rel_error(grads[1], exact[2]) <= 2e-3  # dW reads x rounded to float16 (2^-11 relative)
    assert rel_error(grads[2], exact[3]) == 0


ROUTED = [  # (x shape, weight shape, stride, dilation, groups, dtype): runs on Winograd?
    ((8, 128, 8, 8), (128, 128, 3, 3), (1, 1), (1, 1), 1, np.float32, True),
    ((8, 128, 8, 8), (128, 128, 3, 3), (1, 1), (1, 1), 1, np.float64, True),
    ((8, 128, 8, 8), (128, 128, 3, 3), (2, 2), (1, 1), 1, np.float32, False),  # stride 2
    ((8, 128, 8, 8), (128, 128, 3, 3), (1, 1), (2, 2), 1, np.float32, False),  # dilated
    ((8, 128, 8, 8), (128, 64, 3, 3), (1, 1), (1, 1), 2, np.float32, False),  # grouped
    ((8, 128, 8, 8), (128, 128, 5, 5), (1, 1), (1, 1), 1, np.float32, False),  # 5x5
    ((8, 128, 8, 8), (128, 128, 3, 1), (1, 1), (1, 1), 1, np.float32, False),  # 3x1
    ((8, 128, 8, 8), (128, 128, 3, 3), (1, 1), (1, 1), 1, np.float16, False),  # float16
    ((1, 1, 28, 28), (32, 1, 3, 3), (1, 1), (1, 1), 1, np.float32, False),  # one input channel: im2col faster
    ((1, 3, 32, 32), (16, 3, 3, 3), (1, 1), (1, 1), 1, np.float32, False),  # three
]


@pytest.mark.parametrize("call", ROUTED, ids=[f"route{i}" for i in range(len(ROUTED))])
def test_the_dispatch_rule(call):
    *args, expected = call
    assert winograd.winograd_applies(*args) is expected
    if args[-1] == np.float16:  # NumPy's float16 products are slow; the rule alone is the point
        return
    x_shape, w_shape, stride, dilation, groups, dtype = args
    x = np.ones(x_shape, dtype)
    _, ctx = fast.conv2d_forward(x, np.ones(w_shape, dtype), None, stride, (1, 1, 1, 1), dilation, groups)
    # Not Winograd: the grid path, or the channels-last one where its own rule takes the call (test_conv_nhwc.py).
    nhwc = conv_nhwc.nhwc_applies(x_shape, w_shape, stride, (1, 1, 1, 1), dilation, groups, dtype)
    other = conv_nhwc.conv2d_backward if nhwc else fast_conv.conv2d_backward
    assert ctx._backward is (winograd.conv2d_backward if expected else other)
    ctx.backward(np.zeros(_.shape, dtype))


def test_the_dispatch_rule_follows_its_thresholds():
    low, high, n = winograd.MIN_CHANNELS - 1, winograd.MIN_CHANNELS, winograd.MIN_OUTPUTS // 64
    rest = ((1, 1), (1, 1), 1, np.float32)
    assert winograd.winograd_applies((n, high, 8, 8), (high, high, 3, 3), *rest)
    assert not winograd.winograd_applies((n, low, 8, 8), (high, low, 3, 3), *rest)  # too few input channels
    assert not winograd.winograd_applies((n, high, 8, 8), (low, high, 3, 3), *rest)  # too few output channels
    assert not winograd.winograd_applies((n - 1, high, 8, 8), (high, high, 3, 3), *rest)  # too few pixels


def test_the_transforms_on_one_tile_equal_the_direct_convolution():
    """y = A^T [(G g G^T) * (B^T d B)] A for one 4x4 tile d and one 3x3 filter g."""
    rng = np.random.default_rng(0)
    d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
    direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])
    tile = winograd.A_T @ ((winograd.G @ g @ winograd.G.T) * (winograd.B_T @ d @ winograd.B_T.T)) @ winograd.A_T.T
    assert np.allclose(tile, direct, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding", [1, 0, (2, 1)])
def test_conv2d_layers_routed_to_winograd_match_pytorch(dtype, padding):
    """nn.Conv2d on the Winograd route (128 channels, 8x8 images, or 7x7: ragged tiles) against torch."""
    torch = pytest.importorskip("torch")
    from strided import nn
    from tests.helpers import check_torch_parity

    n, size = (8, 8) if padding == 1 else (11, 7)
    x = np.random.default_rng(4).standard_normal((n, 128, size, size)).astype(dtype)
    assert winograd.winograd_applies(x.shape, (128, 128, 3, 3), (1, 1), (1, 1), 1, dtype)
    ours = nn.Conv2d(128, 128, 3, padding=padding).to(dtype)
    check_torch_parity(ours, torch.nn.Conv2d(128, 128, 3, padding=padding), x)


def test_conv2d_on_the_winograd_route_matches_numerical_gradients(monkeypatch):
    """A small layer sent down the Winograd route (thresholds lowered), ragged tiles, against central differences."""
    from strided import nn
    from tests.helpers import check_numerical_gradients

    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_OUTPUTS", 1)
    x = np.random.default_rng(5).standard_normal((2, 3, 7, 6))
    layer = nn.Conv2d(3, 4, 3, padding=(1, 2))
    assert winograd.winograd_applies(x.shape, layer.weight.shape, (1, 1), (1, 1), 1, x.dtype)
    assert check_numerical_gradients(layer, x) <= 1e-6
