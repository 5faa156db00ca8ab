"""The networks that strided's speed is measured on, built in strided and (for comparison) PyTorch.

``build_strided(name)`` and ``build_torch(name)`` return a ``Case``: the model and a ``step()`` that
runs one unit of work (a forward and backward, a full training step with the optimizer, or an
inference forward) on a fixed float32 batch. The PyTorch twins have the same shapes, layer for layer,
so the two times are comparable. PyTorch is imported only when a PyTorch case is built.

This file imports nothing of strided.benchmark: `strided bench`'s worker loads it by its path, so
that a child process can time the ``strided`` of another source tree (``--baseline-path``) with
these very cases.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import strided as st

CASES = ("seed-net", "fmnist-cnn", "resnet-cifar", "inference-b1", "inference-b256")
# Issue 18's targets: the most strided's median step may take, as a multiple of PyTorch's.
TARGETS = {"seed-net": 1.0, "fmnist-cnn": 1.0, "resnet-cifar": 1.3, "inference-b1": 0.8, "inference-b256": 0.9}
MEMORY_CASE, MEMORY_TARGET = "resnet-cifar", 1.0  # peak-memory growth of a training step, strided / PyTorch
TINY = "tiny"  # one small conv, forward + backward: not a benchmark, a fast case for the tests of the harness


@dataclass
class Case:
    name: str
    step: Callable[[], object]
    model: object


def _data(shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])


# ---------------------------------------------------------------- strided
def strided_seed_net():
    nn = st.nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def strided_fmnist_cnn():
    nn = st.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def strided_resnet_cifar():
    nn = st.nn
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        nn.ResidualBlock(16, 16), nn.ResidualBlock(16, 32, stride=2), nn.ResidualBlock(32, 64, stride=2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def _strided_train_step(model, optimizer, x, y):
    criterion = st.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())
        optimizer.step()

    return step


def _strided_forward_backward(model, input_shape, output_shape):
    """A step of one forward and one backward of ones, without loss or optimizer."""
    x, _ = _data(input_shape, 10)
    grad = np.ones(output_shape, np.float32)

    def step():
        model.zero_grad()
        model(x)
        model.backward(grad)

    return step


def build_strided(name: str) -> Case:
    if name == "seed-net":
        model = strided_seed_net()
        return Case(name, _strided_forward_backward(model, (32, 1, 28, 28), (32, 64, 7, 7)), model)
    if name == "fmnist-cnn":
        model = strided_fmnist_cnn()
        x, y = _data((128, 1, 28, 28), 10)
        return Case(name, _strided_train_step(model, st.optim.Adam(model.parameters()), x, y), model)
    if name == "resnet-cifar":
        model = strided_resnet_cifar()
        x, y = _data((32, 3, 32, 32), 10)
        optimizer = st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        return Case(name, _strided_train_step(model, optimizer, x, y), model)
    if name.startswith("inference-b"):
        # Fused (BatchNorm folded into the convolutions, ReLU in place), as the Predictor and the server
        # run it; a tree from before model.fuse() existed runs the model as it is.
        model = strided_fmnist_cnn().eval()
        model = model.fuse() if hasattr(model, "fuse") else model
        x, _ = _data((int(name.removeprefix("inference-b")), 1, 28, 28), 10)

        def step():
            with st.no_grad():
                return model(x)

        return Case(name, step, model)
    if name == TINY:
        conv = st.nn.Conv2d(1, 4, 3, padding=1)
        return Case(name, _strided_forward_backward(conv, (2, 1, 8, 8), (2, 4, 8, 8)), conv)
    raise ValueError(f"unknown benchmark case {name!r}")


# ---------------------------------------------------------------- PyTorch twins
def build_torch(name: str) -> Case:
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + (x if self.downsample is None else self.downsample(x)))

    def fmnist():
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))

    def train_step(model, optimizer, x, y):
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        criterion = nn.CrossEntropyLoss()

        def step():
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()

        return step

    def forward_backward(model, input_shape, output_shape):
        x, grad = torch.from_numpy(_data(input_shape, 10)[0]), torch.ones(output_shape)

        def step():
            model.zero_grad()
            model(x).backward(grad)

        return step

    if name == "seed-net":
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        return Case(name, forward_backward(model, (32, 1, 28, 28), (32, 64, 7, 7)), model)
    if name == "fmnist-cnn":
        model = fmnist()
        x, y = _data((128, 1, 28, 28), 10)
        return Case(name, train_step(model, torch.optim.Adam(model.parameters()), x, y), model)
    if name == "resnet-cifar":
        model = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            BasicBlock(16, 16), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
        x, y = _data((32, 3, 32, 32), 10)
        return Case(name, train_step(model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), x, y), model)
    if name.startswith("inference-b"):
        model = fmnist().eval()
        x = torch.from_numpy(_data((int(name.removeprefix("inference-b")), 1, 28, 28), 10)[0])

        def step():
            with torch.inference_mode():
                return model(x)

        return Case(name, step, model)
    if name == TINY:
        conv = nn.Conv2d(1, 4, 3, padding=1)
        return Case(name, forward_backward(conv, (2, 1, 8, 8), (2, 4, 8, 8)), conv)
    raise ValueError(f"unknown benchmark case {name!r}")
