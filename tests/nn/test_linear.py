"""Linear, Flatten and Identity: parity with torch.nn, numerical gradients, init, errors."""

import math

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import check_numerical_gradients, check_torch_parity

# (in_features, out_features, bias, input shape)
LINEAR_CONFIGS = [
    (1, 1, True, (1, 1)), (7, 4, True, (6, 7)), (7, 4, False, (6, 7)), (5, 9, True, (1, 5)),
    (3, 2, True, (2, 4, 3)), (3, 2, False, (2, 2, 2, 3)), (6, 3, True, (6,)), (16, 10, True, (8, 16)),
    (12, 1, True, (5, 12)), (2, 33, False, (3, 2)),
]
CASES = [(c, dtype) for c in LINEAR_CONFIGS for dtype in (np.float64, np.float32)]


@pytest.mark.parametrize("config, dtype", CASES)
def test_linear_parity_with_torch(config, dtype):
    in_f, out_f, bias, shape = config
    st.manual_seed(in_f * 100 + out_f)
    ours = st.nn.Linear(in_f, out_f, bias=bias).to(dtype)
    x = np.random.default_rng(in_f + out_f).standard_normal(shape).astype(dtype)
    check_torch_parity(ours, torch.nn.Linear(in_f, out_f, bias=bias), x, seed=out_f)


@pytest.mark.parametrize("config", LINEAR_CONFIGS[:6])
def test_linear_numerical_gradients(config):
    in_f, out_f, bias, shape = config
    x = np.random.default_rng(0).standard_normal(shape)
    check_numerical_gradients(st.nn.Linear(in_f, out_f, bias=bias), x)


def test_linear_default_init_is_pytorchs_uniform_bound():
    st.manual_seed(0)
    layer = st.nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for param in (layer.weight.data, layer.bias.data):
        assert param.dtype == np.float32
        assert np.abs(param).max() <= bound
        assert np.abs(param).max() > 0.95 * bound  # fills the whole range, not a narrower one
    # uniform on (-b, b): variance b^2 / 3
    assert abs(layer.weight.data.var() / (bound**2 / 3) - 1) < 0.02


def test_linear_seeding_repeats_and_keys_match_torch():
    st.manual_seed(5)
    a = st.nn.Linear(4, 3)
    st.manual_seed(5)
    b = st.nn.Linear(4, 3)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert list(a.state_dict()) == list(torch.nn.Linear(4, 3).state_dict())
    assert list(st.nn.Linear(4, 3, bias=False).state_dict()) == ["weight"]
    assert st.param_count(a) == 4 * 3 + 3


def test_linear_gradients_accumulate():
    layer = st.nn.Linear(3, 2).double()
    x = np.random.default_rng(1).standard_normal((4, 3))
    g = np.ones((4, 2))
    layer(x)
    layer.backward(g)
    first = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * first)


def test_linear_repr_is_pytorchs():
    assert repr(st.nn.Linear(3, 2)) == repr(torch.nn.Linear(3, 2))
    assert repr(st.nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))


def test_linear_errors():
    layer = st.nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"Linear\(4 -> 3\): expected input of shape \(\*, 4\), got \(2, 5\)"):
        layer(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match=r"Linear\(4 -> 3\): input dtype float64 does not match"):
        layer(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="expected a floating-point array"):
        layer(np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="in_features must be a non-negative integer, got 2.5"):
        st.nn.Linear(2.5, 3)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 3), np.float32))
    layer(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(2, 3\), got \(2, 4\)"):
        layer.backward(np.zeros((2, 4), np.float32))


FLATTEN_CONFIGS = [
    ((2, 3, 4, 5), 1, -1), ((2, 3, 4, 5), 0, -1), ((2, 3, 4, 5), 2, 3), ((2, 3, 4, 5), 1, 2), ((2, 3, 4, 5), -3, -2),
    ((2, 3), 1, -1), ((4,), 0, -1), ((2, 1, 1, 1), 1, -1), ((3, 2, 5), 0, 1),
]


@pytest.mark.parametrize("shape, start, end", FLATTEN_CONFIGS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_flatten_parity_with_torch(shape, start, end, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    check_torch_parity(st.nn.Flatten(start, end), torch.nn.Flatten(start, end), x)


def test_flatten_numerical_gradients_and_repr():
    check_numerical_gradients(st.nn.Flatten(), np.random.default_rng(0).standard_normal((2, 3, 2, 2)))
    assert repr(st.nn.Flatten()) == repr(torch.nn.Flatten())


def test_flatten_errors():
    with pytest.raises(ValueError, match=r"Flatten\(start_dim=4, end_dim=-1\): dimensions out of range for an input "
                                         r"of shape \(2, 3\)"):
        st.nn.Flatten(4)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="start_dim comes after end_dim"):
        st.nn.Flatten(2, 1)(np.zeros((2, 3, 4)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identity(dtype):
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(dtype)
    check_torch_parity(st.nn.Identity(54, unused=0.1), torch.nn.Identity(54, unused=0.1), x)
    check_numerical_gradients(st.nn.Identity(), x.astype(np.float64))
    layer = st.nn.Identity()
    assert layer(x) is x
    with pytest.raises(ValueError, match=r"Identity: backward expected a gradient of shape \(2, 3\)"):
        layer.backward(np.zeros(3))
