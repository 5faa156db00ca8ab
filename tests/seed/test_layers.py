"""strided.seed's layers: the document's signatures, exact gradients (numerical and against PyTorch),
the SGD step their backward takes, lazy Xavier-uniform parameters in the input's dtype, clear errors."""

import math

import numpy as np
import pytest

import strided as st
from strided.seed import (
    ConvolutionalLayer,
    DenseLayer,
    GlobalAveragePooling,
    MaxPoolingLayer,
    TransitionLayer,
)
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.seed.twins import Frozen, torch_twin

RNG = np.random.default_rng(7)

# (num_filters, filter_size, stride, padding, activation, input shape)
CONV_CASES = [
    (4, 3, 1, 0, "relu", (2, 3, 6, 6)),
    (3, 3, 2, 1, "sigmoid", (2, 2, 7, 5)),
    (2, 1, 1, 0, "tanh", (1, 4, 4, 4)),
    (5, 2, 2, 0, "linear", (3, 1, 6, 7)),
    (2, 5, 1, 2, "relu", (1, 2, 5, 5)),
    (3, 3, 3, 1, "tanh", (2, 3, 8, 8)),
]


def built(layer, shape, dtype=np.float64):
    """The layer after one forward on an input of ``shape`` (parameters exist), and that input."""
    x = RNG.standard_normal(shape).astype(dtype)
    layer.forward(x)
    return layer, x


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolutional_layer_numerical_gradients(case):
    *args, shape = case
    layer, x = built(ConvolutionalLayer(*args), shape)
    check_numerical_gradients(Frozen(layer), x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_convolutional_layer_matches_pytorch(case, dtype):
    *args, shape = case
    layer, x = built(ConvolutionalLayer(*args), shape, dtype)
    check_torch_parity(layer, torch_twin(layer), x)


def test_convolutional_layer_creates_xavier_filters_at_first_forward_in_the_input_dtype():
    layer = ConvolutionalLayer(num_filters=6, filter_size=3)
    assert layer.filters is None and layer.biases is None
    st.manual_seed(3)
    out = layer.forward(np.ones((1, 4, 5, 5), dtype=np.float32))
    assert out.dtype == np.float32 and out.shape == (1, 6, 3, 3)
    assert layer.filters.shape == (6, 4, 3, 3) and layer.filters.dtype == np.float32
    assert layer.biases.shape == (6,) and not layer.biases.any()
    limit = math.sqrt(6.0 / (3 * 3 * 4 + 3 * 3 * 6))  # the document's bound
    assert np.abs(layer.filters).max() <= limit and np.abs(layer.filters).max() > 0.9 * limit
    again = ConvolutionalLayer(num_filters=6, filter_size=3)
    st.manual_seed(3)
    again.forward(np.ones((1, 4, 5, 5), dtype=np.float32))
    np.testing.assert_array_equal(again.filters, layer.filters)


def test_backward_returns_the_gradient_at_the_old_weights_then_takes_a_plain_sgd_step():
    layer, x = built(ConvolutionalLayer(3, 3, padding=1, activation="tanh"), (2, 2, 5, 5))
    g = RNG.standard_normal((2, 3, 5, 5))
    old_filters, old_biases = layer.filters.copy(), layer.biases.copy()
    layer.forward(x)
    frozen_grad = layer.backward(g, learning_rate=0)
    grad_filters, grad_biases = layer.conv.weight.grad.copy(), layer.conv.bias.grad.copy()
    np.testing.assert_array_equal(layer.filters, old_filters)  # rate 0: nothing moves

    layer.forward(x)
    grad = layer.backward(g, 0.1)
    np.testing.assert_allclose(grad, frozen_grad, rtol=1e-12, atol=0)
    np.testing.assert_allclose(layer.filters, old_filters - 0.1 * grad_filters, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(layer.biases, old_biases - 0.1 * grad_biases, rtol=1e-12, atol=1e-15)
    # .grad holds this call's gradient, not the sum of both calls
    np.testing.assert_allclose(layer.conv.weight.grad, grad_filters, rtol=1e-12, atol=0)


def test_filters_can_be_set_before_the_first_forward():
    layer = ConvolutionalLayer(2, 3, activation="linear")
    filters = np.zeros((2, 1, 3, 3))
    filters[0, 0, 1, 1] = 1.0  # the identity filter
    layer.filters = filters
    layer.biases = np.array([0.0, 5.0])
    x = RNG.standard_normal((1, 1, 4, 4))
    out = layer.forward(x)
    np.testing.assert_array_equal(out[0, 0], x[0, 0, 1:3, 1:3])
    np.testing.assert_array_equal(out[0, 1], np.full((2, 2), 5.0))


@pytest.mark.parametrize("pool_size, stride, shape", [(2, 2, (2, 3, 6, 6)), (3, 2, (1, 2, 7, 9)),
                                                      (2, 1, (2, 1, 5, 4))])
def test_max_pooling_layer_gradients(pool_size, stride, shape):
    layer = MaxPoolingLayer(pool_size, stride)
    x = RNG.standard_normal(shape)
    check_numerical_gradients(Frozen(layer), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(layer.to(dtype), torch_twin(layer), x.astype(dtype))


def test_max_pooling_backward_accepts_the_rate_a_network_passes():
    layer = MaxPoolingLayer()
    out = layer.forward(RNG.standard_normal((1, 1, 4, 4)))
    assert layer.backward(np.ones_like(out), 0.01).shape == (1, 1, 4, 4)
    layer.forward(RNG.standard_normal((1, 1, 4, 4)))
    assert layer.backward(np.ones_like(out)).shape == (1, 1, 4, 4)


def test_global_average_pooling_gives_n_by_c_and_exact_gradients():
    layer = GlobalAveragePooling()
    x = RNG.standard_normal((3, 4, 5, 6))
    np.testing.assert_allclose(layer.forward(x), x.mean(axis=(2, 3)), rtol=1e-12)
    check_numerical_gradients(Frozen(layer), x)
    check_torch_parity(layer, torch_twin(layer), x.astype(np.float32))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear", "softmax"])
@pytest.mark.parametrize("shape", [(3, 2, 2, 3), (4, 12)])
def test_dense_layer_flattens_and_has_exact_gradients(activation, shape):
    layer, x = built(DenseLayer(12, 5, activation), shape)
    assert layer.weights.shape == (5, 12) and not layer.biases.any()
    check_numerical_gradients(Frozen(layer), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(layer.to(dtype), torch_twin(layer), x.astype(dtype))


def test_softmax_dense_layer_outputs_probabilities():
    layer = DenseLayer(8, 4, "softmax")
    out = layer.forward(RNG.standard_normal((5, 2, 2, 2)))
    assert out.shape == (5, 4) and (out > 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)


def test_transition_layer_is_conv1x1_then_2x2_average_pooling():
    layer, x = built(TransitionLayer(6, 3), (2, 6, 5, 4))
    assert layer.forward(x).shape == (2, 3, 2, 2)
    assert layer.conv.filters.shape == (3, 6, 1, 1)
    check_numerical_gradients(Frozen(layer), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(layer.to(dtype), torch_twin(layer), x.astype(dtype))


# ----------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("make, match", [
    (lambda: ConvolutionalLayer(4, 3, activation="softmax"), "activation must be one of 'relu'"),
    (lambda: ConvolutionalLayer(0, 3), "num_filters must be a positive integer, got 0"),
    (lambda: ConvolutionalLayer(4, 2.5), "filter_size must be a positive integer"),
    (lambda: ConvolutionalLayer(4, 3, padding=-1), "padding must be a non-negative integer"),
    (lambda: MaxPoolingLayer(0), "pool_size must be a positive integer"),
    (lambda: DenseLayer(10, 2, "gelu"), "activation must be one of"),
    (lambda: TransitionLayer(0, 4), "in_channels must be a positive integer"),
])
def test_bad_arguments_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_name_the_layer_and_what_it_expected():
    conv = ConvolutionalLayer(4, 3)
    with pytest.raises(ValueError, match=r"ConvolutionalLayer\(4 filters 3x3\): expected input of shape \(N, C,"):
        conv.forward(np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="floating-point"):
        conv.forward(np.zeros((1, 1, 8, 8), dtype=np.int64))
    conv.forward(np.zeros((1, 3, 8, 8)))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 3, H, W\), got \(1, 1, 8, 8\)"):
        conv.forward(np.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="dtype"):
        conv.forward(np.zeros((1, 3, 8, 8), dtype=np.float32))
    with pytest.raises(ValueError, match=r"filters must have shape \(4, 3, 3, 3\)"):
        conv.filters = np.zeros((4, 2, 3, 3))
    with pytest.raises(ValueError, match=r"DenseLayer\(256 -> 10\): expected input of shape \(N, 256\)"):
        DenseLayer(256, 10).forward(np.zeros((2, 4, 4, 4)))
    with pytest.raises(ValueError, match=r"TransitionLayer\(8 -> 4\): expected input of shape \(N, 8, H, W\)"):
        TransitionLayer(8, 4).forward(np.zeros((1, 6, 4, 4)))
    with pytest.raises(ValueError, match=r"MaxPoolingLayer: expected input of shape \(N, C, H, W\)"):
        MaxPoolingLayer().forward(np.zeros((4, 4)))


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="needs a forward"):
        ConvolutionalLayer(4, 3).backward(np.zeros((1, 4, 2, 2)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        DenseLayer(4, 2).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        MaxPoolingLayer().backward(np.zeros((1, 1, 2, 2)))


def test_a_gradient_of_the_wrong_shape_is_refused():
    layer, _ = built(ConvolutionalLayer(2, 3), (1, 1, 5, 5))
    with pytest.raises(ValueError, match="gradient of shape"):
        layer.backward(np.zeros((1, 2, 4, 4)))
