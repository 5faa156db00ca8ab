"""strided.seed's networks: CNN's backward, train_step, fit (with the loss the document forgot to set),
predict; CrossEntropy; AdvancedCNN's ResNet and DenseNet, exact against PyTorch twins."""

import numpy as np
import pytest

import strided as st
from strided.seed import (
    CNN,
    AdvancedCNN,
    ConvolutionalLayer,
    CrossEntropy,
    DenseLayer,
    GlobalAveragePooling,
    MaxPoolingLayer,
)
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.seed.twins import Frozen, torch_twin

RNG = np.random.default_rng(5)


def small_cnn(last_activation="softmax", learning_rate=0.01):
    return CNN([ConvolutionalLayer(3, 3, padding=1), MaxPoolingLayer(2, 2), ConvolutionalLayer(4, 3, 1, 1, "tanh"),
                GlobalAveragePooling(), DenseLayer(4, 3, last_activation)], learning_rate=learning_rate)


def separable_problem(n=32):
    """Class 0: a bright left half; class 1: a bright right half; both under noise."""
    y = np.arange(n) % 2
    X = 0.3 * np.random.default_rng(n).standard_normal((n, 1, 8, 8))
    X[y == 0, :, :, :4] += 1.0
    X[y == 1, :, :, 4:] += 1.0
    return X, y


@pytest.mark.parametrize("last", ["softmax", "linear"])
def test_cnn_gradients(last):
    cnn = small_cnn(last)
    x = RNG.standard_normal((2, 2, 6, 6))
    cnn.forward(x)
    check_numerical_gradients(Frozen(cnn), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(cnn.to(dtype), torch_twin(cnn), x.astype(dtype))


@pytest.mark.parametrize("architecture", ["resnet", "densenet"])
def test_advanced_cnn_matches_pytorch_end_to_end(architecture):
    """float64 here; every layer and block inside is also checked in float32 above and in test_blocks."""
    st.manual_seed(0)
    model = AdvancedCNN(architecture, num_classes=5)
    x = RNG.standard_normal((1, 3, 24, 24))  # DenseNet's smallest: its last block runs at 1x1
    out = model.forward(x)
    assert out.shape == (1, 5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-12)
    check_torch_parity(model, torch_twin(model), x)


@pytest.mark.parametrize("architecture", ["resnet", "densenet"])
def test_advanced_cnn_numerical_gradients_at_a_sample_of_entries(architecture):
    """Through 15 to 45 layers, central differences lose digits to rounding: with the document's Xavier
    init (gain 1) the activations, and the gradients of early weights, shrink layer by layer towards
    float64's noise. Scaling the filters by sqrt(2) (He's gain for ReLU) keeps the differences above it;
    the tolerance is the helper's. eps: the ResNet's sampled layer.5.conv2 weight has a gradient of 8.0e-6
    against a loss of 0.58, so at eps = 1e-5 the difference is 1.6e-10 and rounding noise alone gave
    relative errors of 2.8e-7 (reference kernels) and 1.7e-6 (fast kernels: the same sums in another order);
    at 1e-4 6.4e-8 and 5.0e-9, and at 1e-3 1.9e-9 (the analytic gradient equals the reference's to 1e-15).
    The DenseNet keeps 1e-5: at 1e-4 a perturbation crosses a ReLU's kink (layer.2.0's bias, 2.5e-2)."""
    st.manual_seed(1)
    model = AdvancedCNN(architecture, num_classes=3)
    x = np.random.default_rng(1).standard_normal((1, 3, 24, 24))
    model.forward(x)
    for param in model.parameters():
        if param.data.ndim > 1:
            param.data *= np.sqrt(2)
    resnet = architecture == "resnet"
    check_numerical_gradients(Frozen(model), x, eps=1e-4 if resnet else 1e-5, max_checks=2 if resnet else 1)


def test_advanced_cnn_layer_lists_are_the_documents():
    resnet = AdvancedCNN("resnet")
    kinds = [type(layer).__name__ for layer in resnet.layers]
    assert kinds == ["ConvolutionalLayer", "MaxPoolingLayer"] + ["ResidualBlock"] * 6 + ["GlobalAveragePooling",
                                                                                         "DenseLayer"]
    assert [(b.input_channels, b.output_channels, b.stride) for b in resnet.layers[2:8]] == [
        (64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1)]
    densenet = AdvancedCNN("densenet", num_classes=7)
    assert [getattr(layer, "num_layers", None) for layer in densenet.layers] == [None, None, 6, None, 12, None, 24,
                                                                                None, None]
    assert (densenet.layers[3].in_channels, densenet.layers[5].in_channels) == (64 + 6 * 32, 64 + 12 * 32)
    assert (densenet.layers[-1].input_size, densenet.layers[-1].output_size) == (64 + 24 * 32, 7)


def test_network_backward_updates_weights_and_returns_the_input_gradient():
    cnn = small_cnn(learning_rate=0.1)
    x = RNG.standard_normal((2, 2, 6, 6))
    g = RNG.standard_normal((2, 3))
    cnn.forward(x)
    before = {name: p.data.copy() for name, p in cnn.named_parameters()}
    grad_input = cnn.backward(g)
    assert grad_input.shape == x.shape
    for name, param in cnn.named_parameters():
        np.testing.assert_allclose(param.data, before[name] - 0.1 * param.grad, rtol=1e-12, atol=1e-15)


def test_cross_entropy_on_probabilities_equals_cross_entropy_on_logits():
    logits = RNG.standard_normal((6, 4))
    y = RNG.integers(0, 4, 6)
    softmax = st.nn.Softmax(dim=1)
    p = softmax(logits)
    on_logits, on_probabilities = CrossEntropy(), CrossEntropy(from_probabilities=True)
    assert on_probabilities(p, y) == pytest.approx(on_logits(logits, y), rel=1e-12)
    expected = -np.mean(np.log(p[np.arange(6), y]))
    assert on_logits(logits, y) == pytest.approx(expected, rel=1e-12)
    # chained through the softmax, dL/dp becomes dL/dz = (p - onehot) / N
    grad_z = softmax.backward(on_probabilities.gradient(p, y))
    np.testing.assert_allclose(grad_z, on_logits.gradient(logits, y), rtol=1e-10, atol=1e-15)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(grad_z, (p - onehot) / 6, rtol=1e-10, atol=1e-15)


def test_cross_entropy_keeps_float32_and_stays_finite_for_a_zero_probability():
    p = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    loss = CrossEntropy(from_probabilities=True)
    assert np.isfinite(loss(p, np.array([1, 0])))
    grad = loss.gradient(p, np.array([1, 0]))
    assert grad.dtype == np.float32 and np.isfinite(grad).all()


def test_default_loss_follows_the_last_layer():
    assert small_cnn("softmax").default_loss().from_probabilities
    assert not small_cnn("linear").default_loss().from_probabilities


@pytest.mark.parametrize("last", ["softmax", "linear"])
def test_fit_learns_a_separable_problem(last, capsys):
    st.manual_seed(0)
    X, y = separable_problem()
    cnn = CNN([ConvolutionalLayer(4, 3, padding=1), MaxPoolingLayer(2, 2), DenseLayer(4 * 4 * 4, 2, last)],
              learning_rate=0.1)
    history = cnn.fit(X, y, epochs=21, batch_size=8)
    assert history is cnn.training_history and len(history) == 21
    assert history[-1] < 0.3 * history[0]
    assert (cnn.predict(X).argmax(axis=1) == y).all()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines] == ["Epoch 0", "Epoch 10", "Epoch 20"]
    assert lines[0] == f"Epoch 0, Loss: {history[0]:.4f}"


def test_train_step_takes_the_documents_loss_protocol_or_a_strided_loss():
    X, y = separable_problem(8)
    cnn = CNN([ConvolutionalLayer(2, 3), DenseLayer(2 * 6 * 6, 2, "linear")], learning_rate=0.05)
    loss_before = CrossEntropy()(cnn.predict(X), y)
    assert cnn.train_step(X, y, CrossEntropy()) == pytest.approx(loss_before, rel=1e-12)
    assert CrossEntropy()(cnn.predict(X), y) < loss_before
    loss = st.nn.CrossEntropyLoss()
    assert isinstance(cnn.train_step(X, y, loss), float)
    targets = np.eye(2)[y]
    assert isinstance(cnn.train_step(X, targets, st.nn.MSELoss()), float)


def test_a_plain_strided_layer_in_a_network_gets_the_same_sgd_step():
    linear = st.nn.Linear(8, 2).double()
    cnn = CNN([ConvolutionalLayer(2, 3), GlobalAveragePooling(), st.nn.ReLU(), DenseLayer(2, 8, "linear"), linear],
              learning_rate=0.2)
    x = RNG.standard_normal((3, 1, 5, 5))
    cnn.forward(x)
    before = linear.weight.data.copy()
    cnn.backward(RNG.standard_normal((3, 2)))
    np.testing.assert_allclose(linear.weight.data, before - 0.2 * linear.weight.grad, rtol=1e-12)
    assert [name for name, _ in cnn.named_parameters()][-2:] == ["4.weight", "4.bias"]


def test_predict_keeps_nothing_for_backward():
    cnn = small_cnn()
    x = RNG.standard_normal((1, 2, 6, 6))
    assert cnn.predict(x).shape == (1, 3)
    with pytest.raises(RuntimeError, match="needs a forward"):
        cnn.backward(np.ones((1, 3)))


def test_network_errors():
    with pytest.raises(ValueError, match="unknown architecture 'vgg'; expected 'resnet' or 'densenet'"):
        AdvancedCNN("vgg")
    with pytest.raises(ValueError, match="non-empty list of layers"):
        CNN([])
    with pytest.raises(ValueError, match=r"layer 1 \(int\) needs forward\(\) and backward\(\)"):
        CNN([MaxPoolingLayer(), 3])
    with pytest.raises(ValueError, match="learning_rate must be a number >= 0"):
        CNN([MaxPoolingLayer()], learning_rate=-1)
    cnn = small_cnn()
    X = RNG.standard_normal((4, 2, 6, 6))
    with pytest.raises(ValueError, match=r"expected X of shape \(N, ...\) with N >= 1 and N labels"):
        cnn.fit(X, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        cnn.fit(X, np.zeros(4, dtype=int), epochs=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        cnn.train_step(X, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="integer class labels"):
        cnn.train_step(X, np.zeros(4))
    with pytest.raises(ValueError, match="needs a gradient"):
        cnn.train_step(X, np.zeros(4, dtype=int), lambda output, target: 0.0)
