"""strided.seed's residual and dense blocks (the document's form): exact gradients where the document's
backward is wrong (the residual's final ReLU, the dense block's gradient split), shapes, errors."""

import numpy as np
import pytest

from strided.seed import DenseBlock, ResidualBlock
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.seed.twins import Frozen, torch_twin

RNG = np.random.default_rng(11)

RESIDUAL_CASES = [  # (input_channels, output_channels, stride, input shape)
    (3, 3, 1, (2, 3, 5, 5)),     # identity shortcut
    (2, 4, 1, (1, 2, 4, 6)),     # 1x1 projection: the channel count changes
    (3, 3, 2, (2, 3, 6, 5)),     # 1x1 projection: the stride changes
    (2, 5, 2, (1, 2, 7, 7)),
]
DENSE_CASES = [  # (input_channels, growth_rate, num_layers, input shape)
    (2, 3, 1, (2, 2, 4, 4)),
    (3, 2, 3, (1, 3, 5, 4)),
    (1, 4, 4, (2, 1, 3, 3)),
]


def built(block, shape, dtype=np.float64):
    x = RNG.standard_normal(shape).astype(dtype)
    block.forward(x)
    return block, x


@pytest.mark.parametrize("case", RESIDUAL_CASES, ids=str)
def test_residual_block_gradients(case):
    *args, shape = case
    block, x = built(ResidualBlock(*args), shape)
    assert (block.shortcut is None) == (args[0] == args[1] and args[2] == 1)
    check_numerical_gradients(Frozen(block), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(block.to(dtype), torch_twin(block), x.astype(dtype))


def test_residual_block_output_is_relu_of_main_plus_shortcut():
    block, x = built(ResidualBlock(2, 2), (1, 2, 4, 4))
    expected = np.maximum(block.conv2.forward(block.conv1.forward(x)) + x, 0)
    np.testing.assert_allclose(block.forward(x), expected, rtol=1e-12)
    assert block.forward(RNG.standard_normal((3, 2, 4, 4))).shape == (3, 2, 4, 4)
    assert ResidualBlock(2, 6, 2).forward(RNG.standard_normal((1, 2, 7, 8))).shape == (1, 6, 4, 4)


@pytest.mark.parametrize("case", DENSE_CASES, ids=str)
def test_dense_block_gradients(case):
    *args, shape = case
    block, x = built(DenseBlock(*args), shape)
    check_numerical_gradients(Frozen(block), x)
    for dtype in (np.float64, np.float32):
        check_torch_parity(block.to(dtype), torch_twin(block), x.astype(dtype))


def test_dense_block_concatenates_its_input_and_every_layers_output():
    block, x = built(DenseBlock(3, 2, 3), (2, 3, 4, 4))
    out = block.forward(x)
    assert out.shape == (2, 3 + 3 * 2, 4, 4) and block.output_channels == 9
    np.testing.assert_array_equal(out[:, :3], x)
    np.testing.assert_allclose(out[:, 3:5], block.layers[0].forward(x), rtol=1e-12)
    np.testing.assert_allclose(out[:, 7:9], block.layers[2].forward(out[:, :7]), rtol=1e-12)


def test_block_backward_updates_every_weight_by_sgd():
    block, x = built(ResidualBlock(2, 3, 2), (1, 2, 5, 5))
    before = {name: p.data.copy() for name, p in block.named_parameters()}
    g = RNG.standard_normal(block.forward(x).shape)
    block.backward(g, learning_rate=0.5)
    for name, param in block.named_parameters():
        np.testing.assert_allclose(param.data, before[name] - 0.5 * param.grad, rtol=1e-12, atol=1e-15)
    assert sorted(before) == ["conv1.conv.bias", "conv1.conv.weight", "conv2.conv.bias", "conv2.conv.weight",
                              "shortcut.conv.bias", "shortcut.conv.weight"]


def test_block_errors():
    with pytest.raises(ValueError, match=r"ResidualBlock\(4 -> 8\): expected input of shape \(N, 4, H, W\)"):
        ResidualBlock(4, 8).forward(np.zeros((1, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"DenseBlock\(3 -> 7\): expected input of shape \(N, 3, H, W\)"):
        DenseBlock(3, 2, 2).forward(np.zeros((1, 2, 4, 4)))
    with pytest.raises(ValueError, match="growth_rate must be a positive integer"):
        DenseBlock(3, 0, 2)
    with pytest.raises(ValueError, match="stride must be a positive integer"):
        ResidualBlock(3, 3, 0)
    block, _ = built(DenseBlock(2, 2, 2), (1, 2, 3, 3))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(1, 6, 3, 3\)"):
        block.backward(np.zeros((1, 7, 3, 3)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        DenseBlock(2, 2, 2).backward(np.zeros((1, 6, 3, 3)))
