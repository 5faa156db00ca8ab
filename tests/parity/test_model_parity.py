"""Whole models against PyTorch models of the same structure with the same weights: forward, input gradient and
every parameter gradient. The PyTorch models are torchvision's code, written out here (no torchvision is
installed), built from the block twins of tests/nn/test_blocks.py; tests/models/test_models.py reuses them."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import strided as st
from tests.helpers import TOLERANCE, assert_close, check_torch_parity, copy_weights_to_torch
from tests.nn.test_blocks import (
    TorchBasicBlock,
    TorchBottleneck,
    TorchDenseBlock,
    randomise_batch_norms,
    torch_transition,
)


# ---------------------------------------------------------------- torchvision's models (torchvision/models)
class TorchResNet(nn.Module):
    """torchvision.models.resnet.ResNet (ImageNet stem), or He et al.'s CIFAR layout with ``cifar=True``."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3, cifar=False):
        super().__init__()
        widths = (16, 32, 64) if cifar else (64, 128, 256, 512)
        self.inplanes = widths[0]
        if cifar:
            self.conv1 = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = None if cifar else nn.MaxPool2d(3, stride=2, padding=1)
        for i, (width, count) in enumerate(zip(widths, layers, strict=True)):
            setattr(self, f"layer{i + 1}", self._make_layer(block, width, count, stride=1 if i == 0 else 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(self.inplanes, num_classes)
        self.num_stages = len(layers)

    def _make_layer(self, block, planes, blocks, stride):
        layers = []
        for i in range(blocks):
            layers.append(block(self.inplanes, planes, stride if i == 0 else 1))
            self.inplanes = planes * (4 if block is TorchBottleneck else 1)
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        if self.maxpool is not None:
            x = self.maxpool(x)
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TorchDenseNet(nn.Module):
    """torchvision.models.densenet.DenseNet, or the CIFAR stem (one 3x3 convolution) with ``small_inputs``."""

    def __init__(self, growth_rate=32, block_config=(6, 12, 24, 16), num_init_features=64, bn_size=4,
                 num_classes=1000, in_channels=3, small_inputs=False):
        super().__init__()
        if small_inputs:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 3, padding=1, bias=False))]
        else:
            stem = [("conv0", nn.Conv2d(in_channels, num_init_features, 7, stride=2, padding=3, bias=False)),
                    ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=True)),
                    ("pool0", nn.MaxPool2d(3, stride=2, padding=1))]
        self.features = nn.Sequential(OrderedDict(stem))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            self.features.add_module(f"denseblock{i + 1}",
                                     TorchDenseBlock(num_features, growth_rate, num_layers, bn_size))
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", torch_transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

    def forward(self, x):
        out = F.adaptive_avg_pool2d(F.relu(self.features(x), inplace=True), (1, 1))
        return self.classifier(torch.flatten(out, 1))


def torch_seed_cnn(num_classes=10, in_channels=1):
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 32, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(32, 64, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("avgpool", nn.AdaptiveAvgPool2d(7)), ("flatten", nn.Flatten()), ("fc", nn.Linear(64 * 49, num_classes)),
    ]))


def torch_lenet5(num_classes=10, in_channels=1):
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(in_channels, 6, 5, padding=2)), ("tanh1", nn.Tanh()), ("pool1", nn.AvgPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, 5)), ("tanh2", nn.Tanh()), ("pool2", nn.AvgPool2d(2)),
        ("avgpool", nn.AdaptiveAvgPool2d(5)), ("flatten", nn.Flatten()), ("fc1", nn.Linear(400, 120)),
        ("tanh3", nn.Tanh()), ("fc2", nn.Linear(120, 84)), ("tanh4", nn.Tanh()), ("fc3", nn.Linear(84, num_classes)),
    ]))


# builder name -> the PyTorch model built the same way, for any num_classes and in_channels
TORCH_MODELS = {
    "seed_cnn": torch_seed_cnn,
    "lenet5": torch_lenet5,
    "resnet18": lambda num_classes=1000, in_channels=3: TorchResNet(TorchBasicBlock, (2, 2, 2, 2), num_classes,
                                                                    in_channels),
    "resnet34": lambda num_classes=1000, in_channels=3: TorchResNet(TorchBasicBlock, (3, 4, 6, 3), num_classes,
                                                                    in_channels),
    "resnet50": lambda num_classes=1000, in_channels=3: TorchResNet(TorchBottleneck, (3, 4, 6, 3), num_classes,
                                                                    in_channels),
    **{f"resnet_cifar{depth}": (lambda n: lambda num_classes=10, in_channels=3: TorchResNet(
        TorchBasicBlock, (n, n, n), num_classes, in_channels, cifar=True))((depth - 2) // 6)
       for depth in (20, 32, 44, 56)},
    "densenet121": lambda num_classes=1000, in_channels=3: TorchDenseNet(num_classes=num_classes,
                                                                        in_channels=in_channels),
    "densenet_cifar": lambda num_classes=10, in_channels=3: TorchDenseNet(12, (6, 6, 6), 24, 4, num_classes,
                                                                          in_channels, small_inputs=True),
}


# ---------------------------------------------------------------- parity
def _parity(name, shape, dtype, training=True, **kwargs):
    st.manual_seed(0)
    ours = randomise_batch_norms(st.models.build_model(name, **kwargs)).to(dtype).train(training)
    theirs = TORCH_MODELS[name](**kwargs).train(training)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    return check_torch_parity(ours, theirs, x)


def test_resnet18_forward_and_backward_match_torch():
    errors = _parity("resnet18", (2, 3, 64, 64), np.float64)
    assert len(errors) == 2 + 62  # output, input gradient, and each of the 62 parameters


def test_densenet121_forward_and_backward_match_torch():
    errors = _parity("densenet121", (2, 3, 64, 64), np.float64)
    assert len(errors) == 2 + 364


# float32 parity needs a well-conditioned comparison: through many training-mode batch norms the exact
# gradient is a small difference of large terms, and PyTorch's own float32 result drifts from the float64 one
# (ResNet-20 on 32x32: 8e-3 relative in the input gradient; ours, 8e-7; on smaller inputs both drift by 3e-6
# to 6e-6 in some batch-norm weight gradients, so they differ from each other by up to 7e-6). Deep models in
# training mode are therefore compared with PyTorch in float64, in eval mode in both dtypes, and in float32
# against the float64 reference (test_float32_deep_models_are_close_to_the_exact_result).
SMALL_CASES = [
    ("seed_cnn", (3, 1, 28, 28), {}, (np.float64, np.float32)),
    ("seed_cnn", (2, 3, 13, 10), {"num_classes": 4, "in_channels": 3}, (np.float64, np.float32)),
    ("lenet5", (3, 1, 28, 28), {}, (np.float64, np.float32)),
    ("lenet5", (2, 2, 17, 12), {"num_classes": 3, "in_channels": 2}, (np.float64, np.float32)),
    ("resnet_cifar20", (2, 1, 12, 9), {"num_classes": 5, "in_channels": 1}, (np.float64,)),
    ("densenet_cifar", (2, 3, 16, 16), {}, (np.float64,)),
    ("resnet_cifar20", (2, 3, 32, 32), {}, (np.float64,)),
]  # ResNet-50: its Bottleneck blocks are compared in tests/nn/test_blocks.py, its names and count in
# tests/models/test_models.py; a whole-model comparison would spend ~10 s copying its 25M weights around.


@pytest.mark.parametrize("name,shape,kwargs,dtype", [(n, s, k, d) for n, s, k, dtypes in SMALL_CASES for d in dtypes],
                         ids=lambda v: getattr(v, "__name__", str(v)))
def test_small_models_match_torch(name, shape, kwargs, dtype):
    _parity(name, shape, dtype, **kwargs)


@pytest.mark.parametrize("name", ["resnet_cifar20", "densenet_cifar"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_models_in_eval_mode_match_torch(name, dtype):
    _parity(name, (2, 3, 20, 20), dtype, training=False)


@pytest.mark.parametrize("name,shape", [("resnet_cifar20", (2, 3, 32, 32)), ("densenet_cifar", (2, 3, 16, 16))])
def test_float32_deep_models_are_close_to_the_exact_result(name, shape):
    """Ours in float32 (training mode) against PyTorch in float64: output and input gradient within 1e-5."""
    st.manual_seed(0)
    ours = randomise_batch_norms(st.models.build_model(name))
    theirs = TORCH_MODELS[name]().double()
    copy_weights_to_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal(shape)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    grad = np.random.default_rng(0).standard_normal(out_t.shape)
    out_t.backward(torch.from_numpy(grad))
    out = ours(x.astype(np.float32))
    grad_in = ours.backward(grad.astype(np.float32))
    tol = TOLERANCE[np.dtype(np.float32)]
    assert out.dtype == grad_in.dtype == np.float32
    assert_close(out, out_t.detach().numpy(), tol, "output")
    assert_close(grad_in, x_t.grad.numpy(), tol, "input gradient")
