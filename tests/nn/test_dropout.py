"""Dropout and Dropout2d: statistics of the masks, scaling, eval identity, gradients, errors."""

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import check_numerical_gradients, check_torch_parity


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_about_1_minus_p_and_scales_by_its_inverse(p, dtype):
    st.manual_seed(0)
    x = np.ones((200, 500), dtype=dtype)
    out = st.nn.Dropout(p)(x)
    assert out.dtype == dtype
    kept = out != 0
    # 100,000 Bernoulli draws: the fraction's standard deviation is below 0.0016, so 0.01 is > 6 sigma
    assert abs(kept.mean() - (1 - p)) < 0.01
    np.testing.assert_array_equal(out[kept], np.asarray(1 / (1 - p), dtype=dtype))
    assert abs(out.mean() - 1.0) < 0.05  # inverted dropout keeps the expectation


@pytest.mark.parametrize("cls", [st.nn.Dropout, st.nn.Dropout2d])
def test_backward_uses_the_forward_mask(cls):
    st.manual_seed(1)
    x = np.random.default_rng(0).uniform(1, 2, (4, 6, 3, 3))
    layer = cls(0.4)
    out = layer(x)
    g = np.random.default_rng(1).standard_normal(x.shape)
    np.testing.assert_allclose(layer.backward(g), g * (out / x), rtol=1e-15)


def test_dropout2d_drops_whole_channels():
    st.manual_seed(2)
    x = np.random.default_rng(0).uniform(1, 2, (50, 40, 3, 4)).astype(np.float32)
    out = st.nn.Dropout2d(0.3)(x)
    zero = out == 0
    channel_zero = zero.all(axis=(2, 3))
    assert np.array_equal(zero.any(axis=(2, 3)), channel_zero)  # a channel is dropped entirely or not at all
    assert abs(channel_zero.mean() - 0.3) < 0.04  # 2000 channels: sd ~0.01
    np.testing.assert_array_equal(out[~zero], x[~zero] * np.float32(1 / 0.7))
    # (N, C, L) input: channel-wise along L, as PyTorch
    out3 = st.nn.Dropout2d(0.5)(np.ones((10, 20, 6)))
    assert np.array_equal((out3 == 0).any(axis=2), (out3 == 0).all(axis=2))


@pytest.mark.parametrize("cls", [st.nn.Dropout, st.nn.Dropout2d])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eval_mode_is_the_identity_and_matches_torch(cls, dtype):
    x = np.random.default_rng(0).standard_normal((3, 4, 5, 5)).astype(dtype)
    layer = cls(0.5).eval()
    assert layer(x) is x
    g = np.ones_like(x)
    assert layer.backward(g) is g
    check_torch_parity(cls(0.5), getattr(torch.nn, cls.__name__)(0.5).eval(), x)
    check_torch_parity(cls(0.0), getattr(torch.nn, cls.__name__)(0.0), x)  # p = 0 in training: identity too


@pytest.mark.parametrize("cls", [st.nn.Dropout, st.nn.Dropout2d])
def test_p_one_gives_zeros_and_zero_gradients(cls):
    x = np.ones((2, 3, 4, 4), np.float32)
    layer = cls(1.0)
    out = layer(x)
    assert out.dtype == np.float32 and not out.any()
    assert not layer.backward(np.ones_like(x)).any()


@pytest.mark.parametrize("layer", [st.nn.Dropout(0.3), st.nn.Dropout2d(0.5)])
def test_numerical_gradients_with_the_seeded_mask(layer):
    check_numerical_gradients(layer, np.random.default_rng(0).standard_normal((3, 4, 2, 3)))


def test_masks_repeat_under_a_seed_and_are_the_same_in_float32_and_float64():
    x = np.ones((8, 16))
    st.manual_seed(9)
    a = st.nn.Dropout(0.5)(x)
    st.manual_seed(9)
    b = st.nn.Dropout(0.5)(x.astype(np.float32))
    np.testing.assert_array_equal(a != 0, b != 0)
    assert (st.nn.Dropout(0.5)(x) != a).any()  # the next draw differs


def test_repr_is_pytorchs():
    assert repr(st.nn.Dropout(0.2)) == repr(torch.nn.Dropout(0.2))
    assert repr(st.nn.Dropout2d()) == repr(torch.nn.Dropout2d())


def test_errors():
    for p in (-0.1, 1.5, "a", None):
        with pytest.raises(ValueError, match="Dropout: dropout probability has to be between 0 and 1, but got"):
            st.nn.Dropout(p)
    with pytest.raises(ValueError, match=r"Dropout2d\(p=0.5\): expected input of shape \(N, C, H, W\) or \(N, C, L\), "
                                         r"got \(2, 3\)"):
        st.nn.Dropout2d()(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="expected a floating-point array"):
        st.nn.Dropout()(np.zeros(3, dtype=np.int32))
    layer = st.nn.Dropout()
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros(3))
    layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(2, 3\)"):
        layer.backward(np.zeros(3))
