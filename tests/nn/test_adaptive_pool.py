"""AdaptiveAvgPool2d, AdaptiveMaxPool2d, GlobalAvgPool2d, GlobalMaxPool2d: PyTorch's windows over
many (input, output) size pairs (dividing, not dividing, output larger than input), numerical
gradients, the inference path and the errors."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from tests.helpers import check_numerical_gradients, check_torch_parity

DTYPES = [np.float64, np.float32]


def _size_pairs():
    """(input (H, W), output_size) pairs: dividing, non-dividing, out > in, None axes, 1x1."""
    fixed = [((8, 8), 1), ((8, 8), 2), ((8, 8), 4), ((8, 8), 8), ((7, 7), 3), ((10, 6), (3, 4)), ((5, 5), 7),
             ((3, 4), (6, 9)), ((9, 9), (None, 4)), ((6, 9), (2, None)), ((1, 1), 3), ((11, 13), (5, 1)),
             ((14, 14), 7), ((13, 5), (4, 5))]
    rng = np.random.default_rng(4)
    drawn = [(tuple(int(v) for v in rng.integers(1, 14, 2)), tuple(int(v) for v in rng.integers(1, 16, 2)))
             for _ in range(30)]
    return fixed + drawn


PAIRS = _size_pairs()


def _input(n, c, hw, dtype, seed=0, ties=False):
    x = np.random.default_rng(seed).standard_normal((n, c, *hw))
    return (np.maximum(np.round(x), 0) if ties else x).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(PAIRS)))
def test_adaptive_avg_matches_torch(index, dtype):
    hw, out = PAIRS[index]
    x = _input(1 + index % 2, 3, hw, dtype, seed=index)
    check_torch_parity(nn.AdaptiveAvgPool2d(out), torch.nn.AdaptiveAvgPool2d(out), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(PAIRS)))
def test_adaptive_max_matches_torch(index, dtype):
    hw, out = PAIRS[index]
    x = _input(1 + index % 2, 3, hw, dtype, seed=index, ties=index % 2 == 0)
    check_torch_parity(nn.AdaptiveMaxPool2d(out), torch.nn.AdaptiveMaxPool2d(out), x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hw", [(1, 1), (5, 3), (8, 8), (7, 12)])
def test_global_pools_match_torch(hw, dtype):
    x = _input(2, 4, hw, dtype)
    check_torch_parity(nn.GlobalAvgPool2d(), torch.nn.AdaptiveAvgPool2d(1), x)
    check_torch_parity(nn.GlobalMaxPool2d(), torch.nn.AdaptiveMaxPool2d(1), x)
    ties = _input(2, 4, hw, dtype, ties=True)
    check_torch_parity(nn.GlobalMaxPool2d(), torch.nn.AdaptiveMaxPool2d(1), ties)
    assert nn.GlobalAvgPool2d()(x).shape == (2, 4, 1, 1)


@pytest.mark.parametrize("layer", [
    nn.AdaptiveAvgPool2d(3), nn.AdaptiveAvgPool2d((2, 4)), nn.AdaptiveAvgPool2d(1), nn.AdaptiveAvgPool2d((9, None)),
    nn.AdaptiveMaxPool2d(3), nn.AdaptiveMaxPool2d((2, 4)), nn.AdaptiveMaxPool2d(1), nn.AdaptiveMaxPool2d((9, 5)),
    nn.GlobalAvgPool2d(), nn.GlobalMaxPool2d(),
], ids=repr)
def test_numerical_gradients(layer):
    check_numerical_gradients(layer, _input(2, 2, (7, 8), np.float64, seed=5))


@pytest.mark.parametrize("layer", [nn.AdaptiveAvgPool2d(3), nn.AdaptiveMaxPool2d(3), nn.AdaptiveMaxPool2d(2),
                                   nn.GlobalAvgPool2d(), nn.GlobalMaxPool2d()], ids=repr)
def test_no_grad_keeps_nothing_and_gives_the_same_output(layer):
    x = _input(2, 3, (8, 7), np.float32)
    expected = layer(x)
    with st.no_grad():
        out = layer(x)
    np.testing.assert_array_equal(out, expected)
    assert layer._saved is None
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.ones_like(out))


@pytest.mark.parametrize("layer", [nn.AdaptiveMaxPool2d(2), nn.GlobalAvgPool2d()], ids=repr)
def test_backward_before_forward_raises(layer):
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.ones((1, 1, 2, 2)))


def test_repr_is_pytorchs():
    for out in [3, (2, None), (4, 5)]:
        assert repr(nn.AdaptiveAvgPool2d(out)) == repr(torch.nn.AdaptiveAvgPool2d(out))
        assert repr(nn.AdaptiveMaxPool2d(out)) == repr(torch.nn.AdaptiveMaxPool2d(out))


@pytest.mark.parametrize("make, message", [
    (lambda: nn.AdaptiveAvgPool2d(0), r"AdaptiveAvgPool2d\(output_size=0\): output_size must be positive ints"),
    (lambda: nn.AdaptiveMaxPool2d((2, 0)), r"output_size must be positive ints .*got \(2, 0\)"),
    (lambda: nn.AdaptiveMaxPool2d((2, 3, 4)), "output_size must be an int or a pair"),
    (lambda: nn.AdaptiveAvgPool2d(1.5), "output_size must be an int or a pair"),
])
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("layer", [nn.AdaptiveAvgPool2d(2), nn.AdaptiveMaxPool2d(2), nn.GlobalAvgPool2d(),
                                   nn.GlobalMaxPool2d()], ids=repr)
def test_wrong_rank_raises(layer):
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(3, 8, 8\)"):
        layer(np.zeros((3, 8, 8), np.float32))
