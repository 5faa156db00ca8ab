"""MaxPool2d and AvgPool2d: parity with PyTorch over many random configurations, numerical
gradients, PyTorch's tie rule, the inference path, and every documented error."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from strided.functional.pool import pool_geometry
from tests.helpers import check_numerical_gradients, check_torch_parity

DTYPES = [np.float64, np.float32]


def _random_configs(count, seed, dilation):
    """Valid random pooling configurations: kernels 1..5 (often rectangular), strides 1..3, paddings
    up to half the kernel, dilations, ceil_mode both ways, odd sizes, batch 1 among them."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        square = rng.integers(4) == 0  # ints as well as pairs
        kernel = tuple(int(k) for k in rng.integers(1, 6, 2))
        kernel = (kernel[0], kernel[0]) if square else kernel
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        dil = tuple(int(d) for d in rng.integers(1, 3, 2)) if dilation else (1, 1)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *(int(v) for v in rng.integers(3, 13, 2)))
        ceil_mode = bool(rng.integers(2))
        try:
            pool_geometry(shape[2:], kernel, stride, padding, dil, ceil_mode)
        except ValueError:
            continue  # the error cases are tested on their own below
        configs.append(dict(kernel_size=kernel[0] if square else kernel, stride=stride, padding=padding,
                            dilation=dil, ceil_mode=ceil_mode, shape=shape,
                            count_include_pad=bool(rng.integers(2)),
                            divisor_override=None if rng.integers(4) else int(rng.integers(1, 7))))
    return configs


MAX_CONFIGS = _random_configs(120, seed=1, dilation=True)
AVG_CONFIGS = _random_configs(120, seed=2, dilation=False)


def _input(shape, dtype, seed=0, ties=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    return (np.round(x * 1.5) if ties else x).astype(dtype)  # rounding makes many equal maxima


def _max_pair(cfg):
    args = dict(kernel_size=cfg["kernel_size"], stride=cfg["stride"], padding=cfg["padding"],
                dilation=cfg["dilation"], ceil_mode=cfg["ceil_mode"])
    return nn.MaxPool2d(**args), torch.nn.MaxPool2d(**args)


def _avg_pair(cfg):
    args = dict(kernel_size=cfg["kernel_size"], stride=cfg["stride"], padding=cfg["padding"],
                ceil_mode=cfg["ceil_mode"], count_include_pad=cfg["count_include_pad"],
                divisor_override=cfg["divisor_override"])
    return nn.AvgPool2d(**args), torch.nn.AvgPool2d(**args)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(MAX_CONFIGS)))
def test_maxpool_matches_torch(index, dtype):
    cfg = MAX_CONFIGS[index]
    ours, theirs = _max_pair(cfg)
    check_torch_parity(ours, theirs, _input(cfg["shape"], dtype, seed=index, ties=index % 3 == 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(AVG_CONFIGS)))
def test_avgpool_matches_torch(index, dtype):
    cfg = AVG_CONFIGS[index]
    ours, theirs = _avg_pair(cfg)
    check_torch_parity(ours, theirs, _input(cfg["shape"], dtype, seed=index))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kernel, stride", [
    ((32, 8, 28, 28), 2, 2), ((4, 16, 14, 14), 2, 2), ((2, 3, 7, 9), 2, 2), ((1, 1, 5, 5), 2, 1),
    ((2, 4, 12, 12), 3, 3), ((3, 2, 11, 10), 3, 2), ((2, 2, 9, 9), (2, 3), (2, 3)),
])
def test_common_shapes_with_ties_match_torch(shape, kernel, stride, dtype):
    """The fast paths (2x2 tiles, disjoint tiles) on ReLU-like inputs full of equal zeros."""
    x = np.maximum(_input(shape, dtype, ties=True), 0)
    check_torch_parity(nn.MaxPool2d(kernel, stride), torch.nn.MaxPool2d(kernel, stride), x)
    check_torch_parity(nn.AvgPool2d(kernel, stride), torch.nn.AvgPool2d(kernel, stride), x)


def test_tie_goes_to_the_first_maximum_in_row_major_order():
    x = np.zeros((1, 1, 2, 2))
    x[0, 0] = [[1.0, 3.0], [3.0, 3.0]]
    pool = nn.MaxPool2d(2)
    pool(x)
    np.testing.assert_array_equal(pool.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0.0, 1.0], [0.0, 0.0]])


def test_padded_positions_never_win():
    x = -np.ones((1, 1, 2, 2))  # all real values below the zero a zero padding would give
    out = nn.MaxPool2d(2, stride=1, padding=1)(x)
    np.testing.assert_array_equal(out, -np.ones((1, 1, 3, 3)))


@pytest.mark.parametrize("layer", [
    nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1), nn.MaxPool2d((2, 3), stride=1, dilation=(2, 1)),
    nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.AvgPool2d(2), nn.AvgPool2d(3, stride=2, padding=1),
    nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), nn.AvgPool2d(2, stride=1),
    nn.AvgPool2d(2, divisor_override=3),
], ids=repr)
def test_numerical_gradients(layer):
    check_numerical_gradients(layer, _input((2, 2, 7, 6), np.float64, seed=3))


def test_inference_path_gives_the_training_path_output_in_every_configuration():
    """Under no_grad max pooling skips the argmax and pools rows before columns: same values."""
    for index, cfg in enumerate(MAX_CONFIGS):
        layer, _ = _max_pair(cfg)
        x = _input(cfg["shape"], np.float32, seed=index)
        expected = layer(x)
        with st.no_grad():
            np.testing.assert_array_equal(layer(x), expected, err_msg=repr(layer))


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(3, 2, 1)],
                         ids=repr)
def test_no_grad_keeps_nothing_and_gives_the_same_output(layer):
    x = _input((2, 3, 9, 9), np.float32)
    expected = layer(x)
    with st.no_grad():
        out = layer(x)
    np.testing.assert_array_equal(out, expected)
    assert layer._saved is None
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.ones_like(out))


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.AvgPool2d(2)], ids=repr)
def test_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.ones((1, 1, 2, 2)))


@pytest.mark.parametrize("layer", [nn.MaxPool2d(2), nn.AvgPool2d(2)], ids=repr)
def test_gradient_of_the_wrong_shape_raises(layer):
    layer(np.zeros((1, 1, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(1, 1, 2, 2\)"):
        layer.backward(np.ones((1, 1, 4, 4), np.float32))


def test_repr_and_state_dict_are_pytorchs():
    for ours, theirs in [(nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                         (nn.MaxPool2d((2, 3), ceil_mode=True), torch.nn.MaxPool2d((2, 3), ceil_mode=True)),
                         (nn.AvgPool2d(2), torch.nn.AvgPool2d(2))]:
        assert repr(ours) == repr(theirs)
        assert ours.state_dict() == {}


@pytest.mark.parametrize("make, x, message", [
    (lambda: nn.MaxPool2d(2), np.zeros((2, 3, 4)), r"MaxPool2d\(kernel_size=2.*expected input of shape "
                                                   r"\(N, C, H, W\), got \(2, 3, 4\)"),
    (lambda: nn.AvgPool2d(2), np.zeros((1, 2, 3, 4, 5)), r"AvgPool2d.*expected input of shape"),
    (lambda: nn.MaxPool2d(2), np.zeros((1, 1, 4, 4), np.int64), "floating-point"),
    (lambda: nn.MaxPool2d(5), np.zeros((1, 1, 3, 8)), r"MaxPool2d.*kernel \(dilated extent 5\) is larger than the "
                                                      r"padded input height 3 \+ 2\*0 = 3"),
    (lambda: nn.MaxPool2d(3, dilation=3), np.zeros((1, 1, 8, 6)), "dilated extent 7.*width 6"),
    (lambda: nn.AvgPool2d((1, 4), padding=(0, 1)), np.zeros((1, 1, 3, 1)), "larger than the padded input width"),
    (lambda: nn.MaxPool2d(2, padding=1, dilation=2), np.zeros((1, 1, 1, 5)), "would see only padding"),
])
def test_bad_input_raises(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(x)


@pytest.mark.parametrize("make, message", [
    (lambda: nn.MaxPool2d(2, padding=2), r"padding must be at most half the kernel size .*got padding \(2, 2\)"),
    (lambda: nn.AvgPool2d((4, 2), padding=(1, 2)), "padding must be at most half"),
    (lambda: nn.MaxPool2d(0), r"kernel_size must be >= 1, got \(0, 0\)"),
    (lambda: nn.MaxPool2d(2, stride=0), "stride must be >= 1"),
    (lambda: nn.MaxPool2d(2, dilation=(1, 0)), "dilation must be >= 1"),
    (lambda: nn.MaxPool2d(2, padding=-1), "padding must be >= 0"),
    (lambda: nn.MaxPool2d((2, 2, 2)), "kernel_size must be an int or a pair"),
    (lambda: nn.AvgPool2d(2.5), "kernel_size must be an int or a pair"),
    (lambda: nn.AvgPool2d(2, divisor_override=0), "divisor_override must be a non-zero int"),
])
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()
