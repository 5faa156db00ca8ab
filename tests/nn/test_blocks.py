"""ResidualBlock, Bottleneck, DenseLayer, DenseBlock, Transition: torch parity (torchvision's code, written out
here: there is no torchvision), numerical gradients, torchvision's names, shapes and errors."""

from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

import strided as st
from strided.nn.blocks import Bottleneck, DenseBlock, DenseLayer, ResidualBlock, Transition
from tests.helpers import check_numerical_gradients, check_torch_parity


# ---------------------------------------------------------------- torchvision's blocks (torchvision/models)
def _torch_downsample(inplanes, planes, stride):
    if stride == 1 and inplanes == planes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))


class TorchBasicBlock(nn.Module):
    """torchvision.models.resnet.BasicBlock, with _make_layer's downsample built in."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = _torch_downsample(inplanes, planes, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class TorchBottleneck(nn.Module):
    """torchvision.models.resnet.Bottleneck (stride on conv2), with its downsample built in."""

    def __init__(self, inplanes, planes, stride=1, expansion=4):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _torch_downsample(inplanes, planes * expansion, stride)

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class TorchDenseLayer(nn.Module):
    """torchvision.models.densenet._DenseLayer (drop_rate 0), taking the concatenated features."""

    def __init__(self, num_input_features, growth_rate, bn_size=4):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))


class TorchDenseBlock(nn.ModuleDict):
    """torchvision.models.densenet._DenseBlock: each layer reads torch.cat of all features so far."""

    def __init__(self, num_input_features, growth_rate, num_layers, bn_size=4):
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", TorchDenseLayer(num_input_features + i * growth_rate,
                                                                  growth_rate, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


def torch_transition(num_input_features, num_output_features):
    """torchvision.models.densenet._Transition."""
    return nn.Sequential(OrderedDict([
        ("norm", nn.BatchNorm2d(num_input_features)), ("relu", nn.ReLU(inplace=True)),
        ("conv", nn.Conv2d(num_input_features, num_output_features, 1, bias=False)),
        ("pool", nn.AvgPool2d(2, stride=2)),
    ]))


# ---------------------------------------------------------------- helpers
def randomise_batch_norms(model, seed=0):
    """Move every BatchNorm off its defaults (weight 1, bias 0, statistics 0 and 1), so every term counts."""
    rng = np.random.default_rng(seed)
    for module in model.modules():
        if isinstance(module, st.nn.BatchNorm2d):
            c = module.num_features
            module.weight.data[...] = rng.uniform(0.5, 1.5, c)
            module.bias.data[...] = rng.uniform(-0.5, 0.5, c)
            module.running_mean[...] = rng.uniform(-0.5, 0.5, c)
            module.running_var[...] = rng.uniform(0.5, 2.0, c)
    return model


# block class, torch twin, constructor args, input shape
BLOCK_CASES = [
    (ResidualBlock, TorchBasicBlock, (4, 4, 1), (2, 4, 6, 6)),
    (ResidualBlock, TorchBasicBlock, (3, 6, 1), (2, 3, 5, 7)),
    (ResidualBlock, TorchBasicBlock, (4, 8, 2), (2, 4, 7, 6)),
    (ResidualBlock, TorchBasicBlock, (5, 5, 2), (3, 5, 4, 4)),
    (ResidualBlock, TorchBasicBlock, (2, 3, 3), (2, 2, 8, 5)),
    (Bottleneck, TorchBottleneck, (8, 2, 1), (2, 8, 5, 5)),
    (Bottleneck, TorchBottleneck, (4, 2, 1), (2, 4, 6, 5)),
    (Bottleneck, TorchBottleneck, (6, 3, 2, 2), (2, 6, 7, 7)),
    (Bottleneck, TorchBottleneck, (4, 4, 2, 1), (3, 4, 4, 6)),
    (DenseLayer, TorchDenseLayer, (5, 3), (2, 5, 5, 5)),
    (DenseLayer, TorchDenseLayer, (4, 2, 2), (3, 4, 4, 6)),
    (DenseBlock, TorchDenseBlock, (4, 3, 3), (2, 4, 5, 5)),
    (DenseBlock, TorchDenseBlock, (2, 2, 4, 2), (2, 2, 6, 4)),
    (DenseBlock, TorchDenseBlock, (3, 5, 1), (3, 3, 4, 4)),
    (Transition, torch_transition, (6, 3), (2, 6, 6, 6)),
    (Transition, torch_transition, (5, 2), (3, 5, 5, 7)),
]
PARITY_CASES = [(*case, training, dtype) for case in BLOCK_CASES for training in (True, False)
                for dtype in (np.float64, np.float32)]


def _case_id(case):
    ours, _, args, shape, *rest = case
    mode = "" if not rest else f"-{'train' if rest[0] else 'eval'}-{np.dtype(rest[1]).name}"
    return f"{ours.__name__}{args}-{'x'.join(map(str, shape))}{mode}"


@pytest.mark.parametrize("case", PARITY_CASES, ids=_case_id)
def test_block_matches_torch(case):
    ours_cls, theirs_cls, args, shape, training, dtype = case
    st.manual_seed(len(args) + shape[1])
    ours = randomise_batch_norms(ours_cls(*args)).to(dtype).train(training)
    theirs = theirs_cls(*args).train(training)
    x = np.random.default_rng(shape[2]).standard_normal(shape).astype(dtype)
    check_torch_parity(ours, theirs, x)


@pytest.mark.parametrize("case", BLOCK_CASES[::2], ids=_case_id)
def test_block_numerical_gradients(case):
    ours_cls, _, args, shape = case
    st.manual_seed(1)
    block = randomise_batch_norms(ours_cls(*args))
    check_numerical_gradients(block, np.random.default_rng(2).standard_normal(shape), max_checks=25)


@pytest.mark.parametrize("case", BLOCK_CASES[1::4], ids=_case_id)
def test_block_numerical_gradients_in_eval_mode(case):
    ours_cls, _, args, shape = case
    st.manual_seed(3)
    block = randomise_batch_norms(ours_cls(*args)).eval()
    check_numerical_gradients(block, np.random.default_rng(4).standard_normal(shape), max_checks=25)


@pytest.mark.parametrize("case", BLOCK_CASES, ids=_case_id)
def test_block_state_dict_keys_are_torchvisions(case):
    ours_cls, theirs_cls, args, _ = case
    assert list(ours_cls(*args).state_dict()) == list(theirs_cls(*args).state_dict())


def test_shapes_and_channel_counts():
    x = np.zeros((2, 8, 9, 9), np.float32)
    assert ResidualBlock(8, 16, stride=2)(x).shape == (2, 16, 5, 5)
    assert Bottleneck(8, 4, stride=2)(x).shape == (2, 16, 5, 5)
    assert DenseLayer(8, 5)(x).shape == (2, 5, 9, 9)
    block = DenseBlock(8, growth_rate=5, num_layers=3)
    assert block.out_channels == 8 + 3 * 5 and block(x).shape == (2, 23, 9, 9)
    np.testing.assert_array_equal(block(x + 1)[:, :8], x + 1)  # the input passes through unchanged
    assert Transition(8, 4)(x).shape == (2, 4, 4, 4)
    assert ResidualBlock(8, 8).downsample is None and Bottleneck(16, 4).downsample is None
    assert ResidualBlock(8, 8, stride=2).downsample is not None and Bottleneck(8, 4).downsample is not None


def test_blocks_keep_float32_and_nothing_under_no_grad():
    for block in (ResidualBlock(3, 4, 2), Bottleneck(3, 2), DenseBlock(3, 2, 2), Transition(3, 2)):
        x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
        y = block(x)
        assert y.dtype == np.float32 and block.backward(np.ones_like(y)).dtype == np.float32
        with st.no_grad():
            block(x)
        with pytest.raises(RuntimeError, match="needs a forward\\(\\) first"):
            block.backward(np.ones_like(y))


def test_block_fits_in_a_graph_and_rebuilds_from_its_constructor_arguments():
    st.manual_seed(0)
    block = ResidualBlock(3, 6, stride=2)
    args, kwargs = block._init_args
    rebuilt = type(block)(*args, **kwargs)
    rebuilt.load_state_dict(block.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x), block(x))


@pytest.mark.parametrize("build,message", [
    (lambda: ResidualBlock(0, 4), "ResidualBlock: in_channels must be a positive integer, got 0"),
    (lambda: ResidualBlock(4, 4, stride=1.5), "ResidualBlock: stride must be a positive integer"),
    (lambda: Bottleneck(4, 2, expansion=0), "Bottleneck: expansion must be a positive integer"),
    (lambda: DenseLayer(4, -1), "DenseLayer: growth_rate must be a positive integer"),
    (lambda: DenseBlock(4, 2, 0), "DenseBlock: num_layers must be a positive integer"),
    (lambda: Transition(4, True), "Transition: out_channels must be a positive integer"),
])
def test_constructor_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("block,label", [
    (ResidualBlock(4, 8, 2), "ResidualBlock\\(4 -> 8, stride=2\\)"),
    (Bottleneck(4, 2), "Bottleneck\\(4 -> 8, stride=1\\)"),
    (DenseLayer(4, 2), "DenseLayer\\(4 -> \\+2\\)"), (DenseBlock(4, 2, 3), "DenseBlock\\(4 -> 10\\)"),
    (Transition(4, 2), "Transition\\(4 -> 2\\)"),
])
def test_input_errors_name_the_block(block, label):
    with pytest.raises(ValueError, match=f"{label}: expected input of shape \\(N, 4, H, W\\), got \\(2, 3, 5, 5\\)"):
        block(np.zeros((2, 3, 5, 5), np.float32))
    block(np.zeros((2, 4, 6, 6), np.float32))
    with pytest.raises(ValueError, match=f"{label}: backward expected a gradient of shape"):
        block.backward(np.zeros((1, 1, 1, 1), np.float32))


def test_exported_from_st_nn_and_saved_in_model_files(tmp_path):
    assert (st.nn.ResidualBlock, st.nn.Bottleneck, st.nn.DenseLayer, st.nn.DenseBlock, st.nn.Transition) == (
        ResidualBlock, Bottleneck, DenseLayer, DenseBlock, Transition)
    st.manual_seed(0)
    model = st.nn.Sequential(ResidualBlock(3, 4, stride=2), Bottleneck(4, 2), DenseBlock(8, 2, 2, bn_size=2),
                             Transition(12, 6), DenseLayer(6, 3))
    randomise_batch_norms(model).eval()
    st.save(model, tmp_path / "blocks.safetensors")
    loaded = st.load(tmp_path / "blocks.safetensors")
    assert [type(m) for m in loaded] == [type(m) for m in model]
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
