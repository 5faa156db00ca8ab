"""strided.seed's AdvancedPooling and PaddingOperations: the document's methods, values equal to
PyTorch's, padding given in the document's (top, bottom, left, right) order, clear errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import strided as st
from strided.seed import AdvancedPooling, PaddingOperations
from tests.helpers import TOLERANCE, assert_close

RNG = np.random.default_rng(3)
POOL = AdvancedPooling()
PAD = PaddingOperations()
SHAPES = [(1, 1, 8, 8), (2, 3, 7, 9), (1, 2, 5, 6)]


def same(ours, reference):
    assert ours.dtype == reference.dtype
    assert_close(ours, reference, TOLERANCE[ours.dtype], "value")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_pooling_equals_pytorch(shape, dtype):
    x = RNG.standard_normal(shape).astype(dtype)
    t = torch.from_numpy(x)
    for size, stride in [(2, 2), (3, 2), (2, 1)]:
        same(POOL.max_pooling(x, size, stride), F.max_pool2d(t, size, stride).numpy())
        same(POOL.average_pooling(x, size, stride), F.avg_pool2d(t, size, stride).numpy())
    same(POOL.max_pooling(x), F.max_pool2d(t, 2, 2).numpy())
    same(POOL.global_average_pooling(x), F.adaptive_avg_pool2d(t, 1).numpy())
    assert POOL.global_average_pooling(x).shape == shape[:2] + (1, 1)
    for size in [(3, 3), (2, 4), (1, 1), (5, 5)]:
        same(POOL.adaptive_pooling(x, output_size=size), F.adaptive_max_pool2d(t, size).numpy())


@pytest.mark.parametrize("pool_size", [2.5, 1.5, 2, 3.2])
def test_fractional_pooling_shrinks_by_the_factor_and_repeats_under_a_seed(pool_size):
    x = RNG.standard_normal((2, 3, 11, 9))
    st.manual_seed(4)
    out = POOL.fractional_pooling(x, pool_size)
    assert out.shape == (2, 3, int(11 / pool_size), int(9 / pool_size))
    st.manual_seed(4)
    np.testing.assert_array_equal(POOL.fractional_pooling(x, pool_size), out)
    # every output is the maximum of some window: one of its channel's values, and at most the channel's max
    for n in range(2):
        for c in range(3):
            assert np.isin(out[n, c], x[n, c]).all()
    assert (out.max(axis=(2, 3)) <= x.max(axis=(2, 3))).all()
    assert POOL.fractional_pooling(x.astype(np.float32), pool_size).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding", [2, 1, (1, 2, 3, 0), (0, 0, 2, 1), (3, 1, 0, 2)], ids=str)
def test_padding_equals_pytorch_in_the_documents_order(padding, dtype):
    x = RNG.standard_normal((2, 3, 5, 6)).astype(dtype)
    t = torch.from_numpy(x)
    top, bottom, left, right = (padding,) * 4 if isinstance(padding, int) else padding
    torch_order = (left, right, top, bottom)
    same(PAD.zero_padding(x, padding), F.pad(t, torch_order).numpy())
    same(PAD.reflect_padding(x, padding), F.pad(t, torch_order, mode="reflect").numpy())
    same(PAD.replicate_padding(x, padding), F.pad(t, torch_order, mode="replicate").numpy())
    assert PAD.zero_padding(x, padding).shape == (2, 3, 5 + top + bottom, 6 + left + right)


def test_reflect_and_replicate_at_an_edge():
    row = np.arange(1.0, 4.0).reshape(1, 1, 1, 3)  # [1 2 3]
    assert PAD.reflect_padding(row, (0, 0, 2, 2))[0, 0, 0].tolist() == [3, 2, 1, 2, 3, 2, 1]
    assert PAD.replicate_padding(row, (0, 0, 2, 2))[0, 0, 0].tolist() == [1, 1, 1, 2, 3, 3, 3]
    assert PAD.zero_padding(row, (1, 0, 0, 1))[0, 0].tolist() == [[0, 0, 0, 0], [1, 2, 3, 0]]


def test_operation_errors():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"padding must be an int or \(top, bottom, left, right\), got \(1, 2\)"):
        PAD.zero_padding(x, (1, 2))
    with pytest.raises(ValueError, match="pool_size must be a number > 1"):
        POOL.fractional_pooling(x, 1)
    with pytest.raises(ValueError, match="too small for pool_size 5"):
        POOL.fractional_pooling(x, 5)
    with pytest.raises(ValueError, match=r"expected input of shape \(N, C, H, W\), got \(4, 4\)"):
        POOL.fractional_pooling(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="reflect"):
        PAD.reflect_padding(x, 4)  # reflection needs padding < size
