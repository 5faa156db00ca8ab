"""Padding layers: parity with PyTorch's padding layers in both dtypes, numerical gradients, errors, repr."""

import numpy as np
import pytest
import torch

from strided import nn
from tests.helpers import check_numerical_gradients, check_torch_parity

DTYPES = [np.float64, np.float32]
PADDINGS = [1, 2, (0, 1, 2, 3), (3, 0, 1, 0), (2, 2, 0, 0), (0, 0, 0, 0)]
SHAPES = [(2, 3, 5, 6), (1, 1, 4, 4), (2, 2, 7, 3)]

LAYERS = {  # ours, theirs, the largest padding allowed for an input side of n
    "zero": (nn.ZeroPad2d, torch.nn.ZeroPad2d, lambda n: 99),
    "constant": (lambda p: nn.ConstantPad2d(p, -1.25), lambda p: torch.nn.ConstantPad2d(p, -1.25), lambda n: 99),
    "reflection": (nn.ReflectionPad2d, torch.nn.ReflectionPad2d, lambda n: n - 1),
    "replication": (nn.ReplicationPad2d, torch.nn.ReplicationPad2d, lambda n: 99),
    "circular": (nn.CircularPad2d, torch.nn.CircularPad2d, lambda n: n),
}
CASES = [(name, padding, shape) for name in LAYERS for padding in PADDINGS for shape in SHAPES]


def _allowed(name, padding, shape):
    left, right, top, bottom = (padding,) * 4 if isinstance(padding, int) else padding
    limit = LAYERS[name][2]
    return max(left, right) <= limit(shape[3]) and max(top, bottom) <= limit(shape[2])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, padding, shape", [c for c in CASES if _allowed(*c)])
def test_parity_with_torch(name, padding, shape, dtype):
    ours, theirs, _ = LAYERS[name]
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    check_torch_parity(ours(padding), theirs(padding), x)


@pytest.mark.parametrize("name", list(LAYERS))
def test_numerical_gradients(name):
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 5))
    check_numerical_gradients(LAYERS[name][0]((2, 1, 3, 0)), x)


@pytest.mark.parametrize("name", list(LAYERS))
def test_repr_matches_pytorch(name):
    ours, theirs, _ = LAYERS[name]
    assert repr(ours((1, 2, 3, 4))) == repr(theirs((1, 2, 3, 4)))
    assert repr(ours(2)) == repr(theirs(2))


@pytest.mark.parametrize("layer, x, match", [
    (nn.ReflectionPad2d(3), np.zeros((1, 1, 3, 5), np.float32),
     r"ReflectionPad2d\(3, 3, 3, 3\): reflect padding must be smaller than the input height 3, got padding 3"),
    (nn.ReflectionPad2d((0, 4, 0, 0)), np.zeros((1, 1, 5, 4), np.float32), "smaller than the input width 4"),
    (nn.CircularPad2d((5, 0, 0, 0)), np.zeros((1, 1, 5, 4), np.float32), "at most the input width 4, got padding 5"),
    (nn.ZeroPad2d((-3, -3, 0, 0)), np.zeros((1, 1, 5, 4), np.float32), "crops away all of an input of width 4"),
    (nn.ZeroPad2d(1), np.zeros((5, 4), np.float32), r"ZeroPad2d\(1, 1, 1, 1\): expected input of shape \(N, C"),
    (nn.ZeroPad2d(1), np.zeros((1, 1, 5, 4), np.int32), "floating-point"),
])
def test_errors(layer, x, match):
    with pytest.raises(ValueError, match=match):
        layer(x)


@pytest.mark.parametrize("padding", [1.5, (1, 2), (1, 2, 3), "same"])
def test_bad_padding_argument(padding):
    with pytest.raises(ValueError, match="padding must be an int or 4 ints"):
        nn.ZeroPad2d(padding)


def test_backward_before_forward_and_wrong_gradient_shape():
    pad = nn.ReplicationPad2d(1)
    with pytest.raises(RuntimeError, match="forward"):
        pad.backward(np.zeros((1, 1, 4, 4)))
    pad(np.zeros((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(1, 1, 4, 4\)"):
        pad.backward(np.zeros((1, 1, 2, 2)))
