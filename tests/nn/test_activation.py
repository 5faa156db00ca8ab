"""Activation layers: parity with torch.nn, numerical gradients, numerical stability, errors."""

import warnings
import zlib

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close, check_numerical_gradients, check_torch_parity

# (name, constructor arguments): the same name and arguments build strided's and torch's layer.
ACTIVATIONS = [
    ("ReLU", {}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.3}), ("ELU", {}), ("ELU", {"alpha": 0.4}),
    ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Sigmoid", {}), ("Tanh", {}),
    ("Softmax", {"dim": 1}), ("Softmax", {"dim": -1}), ("Softmax", {"dim": 0}),
    ("LogSoftmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}), ("LogSoftmax", {"dim": 0}),
]
SHAPES = [(3, 7), (2, 3, 4, 5), (1, 6), (4, 1, 3)]
CONFIGS = [(name, kwargs, shape, dtype) for name, kwargs in ACTIVATIONS for shape in SHAPES
           for dtype in (np.float64, np.float32)]


def _pair(name, kwargs):
    return getattr(st.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)


def _ids(config):
    name, kwargs, shape, dtype = config
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args})-{'x'.join(map(str, shape))}-{np.dtype(dtype).name}"


@pytest.mark.parametrize("config", CONFIGS, ids=[_ids(c) for c in CONFIGS])
def test_parity_with_torch(config):
    name, kwargs, shape, dtype = config
    rng = np.random.default_rng(zlib.crc32(_ids(config).encode()))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    ours, theirs = _pair(name, kwargs)
    check_torch_parity(ours, theirs, x, seed=int(rng.integers(2**31)))


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS, ids=[_ids((n, k, (), np.float64)) for n, k in ACTIVATIONS])
def test_numerical_gradients(name, kwargs):
    x = np.random.default_rng(7).standard_normal((2, 3, 4)) * 2
    check_numerical_gradients(getattr(st.nn, name)(**kwargs), x)


@pytest.mark.parametrize("dim, shape", [(None, (3, 5)), (None, (2, 3, 4)), (None, (4,)), (None, (2, 3, 4, 5))])
def test_softmax_without_dim_uses_pytorchs_legacy_choice(dim, shape):
    x = np.random.default_rng(3).standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch warns about the implicit dim
        for name in ("Softmax", "LogSoftmax"):
            check_torch_parity(getattr(st.nn, name)(), getattr(torch.nn, name)(), x, seed=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_extreme_inputs_stay_finite_without_warnings(dtype):
    x = np.array([[-1000.0, -40.0, -10.0, 0.0, 10.0, 40.0, 1000.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for name, kwargs in ACTIVATIONS:
            ours, theirs = _pair(name, kwargs)
            out = ours(x)
            assert np.all(np.isfinite(out)), name
            grad = ours.backward(np.ones_like(out))
            assert np.all(np.isfinite(grad)), name
            expected = theirs.to(torch.float64)(torch.from_numpy(x.astype(np.float64))).numpy()
            assert_close(out, expected, TOLERANCE[np.dtype(dtype)], name)
    np.testing.assert_array_equal(st.nn.Sigmoid()(x)[0, [0, -1]], [0.0, 1.0])


def test_gelu_is_exact_not_the_tanh_approximation():
    x = np.linspace(-4, 4, 81)
    exact, approx = st.nn.GELU()(x), st.nn.GELU("tanh")(x)
    np.testing.assert_allclose(exact, torch.nn.functional.gelu(torch.from_numpy(x)).numpy(), rtol=1e-14, atol=1e-16)
    assert np.max(np.abs(exact - approx)) > 1e-4


def test_softmax_rows_sum_to_one_and_log_softmax_is_its_log():
    x = np.random.default_rng(0).standard_normal((5, 7)).astype(np.float32) * 10
    y = st.nn.Softmax(dim=1)(x)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(st.nn.LogSoftmax(dim=1)(x), np.log(y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name, kwargs", ACTIVATIONS)
def test_repr_is_pytorchs(name, kwargs):
    ours, theirs = _pair(name, kwargs)
    assert repr(ours) == repr(theirs)


def test_relu_gradient_at_zero_is_zero_as_in_pytorch():
    x = np.array([-1.0, 0.0, 2.0])
    relu = st.nn.ReLU()
    relu(x)
    np.testing.assert_array_equal(relu.backward(np.ones(3)), [0.0, 0.0, 1.0])


def test_input_is_not_modified_even_with_inplace():
    x = np.array([-1.0, 2.0])
    st.nn.ReLU(inplace=True)(x)
    np.testing.assert_array_equal(x, [-1.0, 2.0])


def test_errors():
    with pytest.raises(ValueError, match="ReLU: expected a floating-point array"):
        st.nn.ReLU()(np.array([1, 2]))
    with pytest.raises(ValueError, match="Sigmoid: expected a NumPy array, got list"):
        st.nn.Sigmoid()([1.0, 2.0])
    with pytest.raises(ValueError, match=r"Softmax\(dim=2\): dim 2 is out of range for an input of shape \(3, 4\)"):
        st.nn.Softmax(dim=2)(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="GELU: approximate must be 'none' or 'tanh', got 'erf'"):
        st.nn.GELU(approximate="erf")
    with pytest.raises(RuntimeError, match="Tanh: backward\\(\\) needs a forward\\(\\) first"):
        st.nn.Tanh().backward(np.zeros(3))
    layer = st.nn.ELU()
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"ELU: backward expected a gradient of shape \(2, 3\), got \(3, 2\)"):
        layer.backward(np.zeros((3, 2)))
    with st.no_grad():
        layer(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 3)))
