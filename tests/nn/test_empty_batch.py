"""Every layer takes an empty batch as PyTorch does: forward and backward give empty arrays of the right shapes,
parameter gradients are zeros, batch norm leaves its running statistics alone (and counts the batch), on the
fast kernels and on the reference ones, without a warning."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from tests.helpers import copy_weights_to_torch

LAYERS = [
    (lambda: nn.Conv2d(3, 8, 3), lambda: torch.nn.Conv2d(3, 8, 3)),
    (lambda: nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3), lambda: torch.nn.Conv2d(3, 6, 3, 2, 1, groups=3)),
    (lambda: nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular"),
     lambda: torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular")),
    (lambda: nn.MaxPool2d(2), lambda: torch.nn.MaxPool2d(2)),
    (lambda: nn.MaxPool2d(3, 1, 1), lambda: torch.nn.MaxPool2d(3, 1, 1)),
    (lambda: nn.AvgPool2d(2), lambda: torch.nn.AvgPool2d(2)),
    (lambda: nn.AdaptiveAvgPool2d(3), lambda: torch.nn.AdaptiveAvgPool2d(3)),
    (lambda: nn.AdaptiveMaxPool2d(3), lambda: torch.nn.AdaptiveMaxPool2d(3)),
    (lambda: nn.GlobalAvgPool2d(), lambda: torch.nn.AdaptiveAvgPool2d(1)),
    (lambda: nn.GlobalMaxPool2d(), lambda: torch.nn.AdaptiveMaxPool2d(1)),
    (lambda: nn.FractionalMaxPool2d(2, output_size=3), lambda: torch.nn.FractionalMaxPool2d(2, output_size=3)),
    (lambda: nn.BatchNorm2d(3), lambda: torch.nn.BatchNorm2d(3)),
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(0.1), lambda: torch.nn.LeakyReLU(0.1)),
    (lambda: nn.ELU(), lambda: torch.nn.ELU()),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.Softmax(1), lambda: torch.nn.Softmax(1)),
    (lambda: nn.LogSoftmax(1), lambda: torch.nn.LogSoftmax(1)),
    (lambda: nn.Dropout(0.5), lambda: torch.nn.Dropout(0.5)),
    (lambda: nn.Dropout2d(0.5), lambda: torch.nn.Dropout2d(0.5)),
    (lambda: nn.ZeroPad2d(1), lambda: torch.nn.ZeroPad2d(1)),
    (lambda: nn.ReflectionPad2d((1, 2, 0, 1)), lambda: torch.nn.ReflectionPad2d((1, 2, 0, 1))),
    (lambda: nn.Flatten(), lambda: torch.nn.Flatten()),
    (lambda: nn.ResidualBlock(3, 6, stride=2), None),
    (lambda: nn.Bottleneck(3, 2), None),
]


@pytest.fixture(params=[False, True], ids=["fast", "reference"])
def kernels(request):
    st.functional.use_reference(request.param)
    yield
    st.functional.use_reference(False)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("make, make_torch", LAYERS, ids=[f"layer{i}" for i in range(len(LAYERS))])
def test_an_empty_batch_goes_forward_and_backward(make, make_torch, kernels):
    layer = make()
    x = np.zeros((0, 3, 8, 8), np.float32)
    y = layer(x)
    grad_x = layer.backward(np.zeros_like(y))
    assert grad_x.shape == x.shape and grad_x.dtype == x.dtype and y.dtype == x.dtype
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None and not parameter.grad.any(), name
    if make_torch is not None:
        theirs = make_torch()
        if layer.state_dict():
            copy_weights_to_torch(layer, theirs)
        assert y.shape == tuple(theirs(torch.zeros(0, 3, 8, 8)).shape)


@pytest.mark.filterwarnings("error")
def test_batch_norm_counts_an_empty_batch_but_learns_nothing_from_it(kernels):
    layer, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    layer(np.zeros((0, 3), np.float32))
    theirs(torch.zeros(0, 3))
    for name, value in theirs.state_dict().items():
        np.testing.assert_array_equal(layer.state_dict()[name], value.numpy(), err_msg=name)


@pytest.mark.filterwarnings("error")
def test_linear_and_the_losses_take_an_empty_batch(kernels):
    linear = nn.Linear(4, 2)
    y = linear(np.zeros((0, 4), np.float32))
    assert y.shape == (0, 2) and linear.backward(y).shape == (0, 4) and not linear.weight.grad.any()
    with np.errstate(invalid="ignore"):  # the mean over nothing is nan, as in PyTorch
        for loss, target in ((nn.CrossEntropyLoss(), np.zeros(0, np.int64)), (nn.MSELoss(), np.zeros((0, 3)))):
            assert np.isnan(loss(np.zeros((0, 3), np.float32), target))
            assert loss.backward().shape == (0, 3)
