"""Containers apply a ReLU in place, and residual blocks sum in place, only where nobody else can see the array.

The numbers must be those of the ordinary calls: every case here is compared against the same model run
with the in-place paths turned off (a forward pre-hook on the ReLU, or hooks on the producing layer, turn
them off by the rules of strided/nn/inplace.py), and against PyTorch in tests/nn/test_blocks.py.
"""

import numpy as np
import pytest

import strided as st
from strided.functional import use_reference
from strided.nn import blocks, inplace
from strided.nn.blocks import Bottleneck, DenseLayer, ResidualBlock


def _run(model, x, seed=1):
    """Output and input gradient of one forward and backward, plus every parameter gradient."""
    model.zero_grad()
    y = model(x)
    out = y.copy()
    grad = np.random.default_rng(seed).standard_normal(y.shape).astype(x.dtype)
    dx = model.backward(grad)
    return out, dx, {name: p.grad.copy() for name, p in model.named_parameters()}


def _same(first, second):
    (y1, dx1, g1), (y2, dx2, g2) = first, second
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(dx1, dx2)
    assert g1.keys() == g2.keys()
    for name in g1:
        np.testing.assert_array_equal(g1[name], g2[name], err_msg=name)


def _without_inplace(model):
    """Hooks that do nothing on every module: they turn the in-place paths off (see nn/inplace.py)."""
    handles = [m.register_forward_pre_hook(lambda module, args: None) for _, m in model.named_modules()]
    return handles


BUILDERS = {
    "conv-relu": lambda: st.nn.Sequential(st.nn.Conv2d(3, 8, 3, padding=1), st.nn.ReLU(), st.nn.MaxPool2d(2),
                                          st.nn.Conv2d(8, 8, 3), st.nn.BatchNorm2d(8), st.nn.ReLU(),
                                          st.nn.Flatten(), st.nn.Linear(8 * 2 * 2, 6), st.nn.ReLU(),
                                          st.nn.Linear(6, 3)),
    "residual": lambda: st.nn.Sequential(ResidualBlock(3, 3), ResidualBlock(3, 6, stride=2)),
    "bottleneck": lambda: st.nn.Sequential(Bottleneck(8, 2), Bottleneck(8, 4, stride=2)),
    "dense-layer": lambda: DenseLayer(3, 4, bn_size=2),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
@pytest.mark.parametrize("reference", [False, True])
def test_in_place_paths_give_the_ordinary_numbers(name, reference):
    st.manual_seed(0)
    model = BUILDERS[name]()
    channels = 8 if name == "bottleneck" else 3
    x = np.random.default_rng(0).standard_normal((4, channels, 8, 8))
    model.to(np.float64)
    use_reference(reference)
    try:
        in_place = _run(model, x)
        handles = _without_inplace(model)
        ordinary = _run(model, x)
        for handle in handles:
            handle.remove()
    finally:
        use_reference(False)
    _same(in_place, ordinary)


def test_relu_overwrites_a_convolutions_output_but_never_the_callers_input():
    conv, relu = st.nn.Conv2d(1, 2, 3, padding=1), st.nn.ReLU()
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 5)).astype(np.float32)
    kept = x.copy()
    produced = conv(x)
    assert inplace.relu_over(relu, conv, produced) is produced and (produced >= 0).all()
    assert (relu._saved[0].positive == (produced > 0)).all()  # what the backward keeps: where y > 0
    for model in (st.nn.Sequential(st.nn.ReLU()), st.nn.Sequential(st.nn.Identity(), st.nn.ReLU()),
                  st.nn.Sequential(st.nn.Flatten(), st.nn.ReLU())):
        model(x)
        np.testing.assert_array_equal(x, kept)  # the first module's input, or a view of it: left alone


def test_a_hook_on_the_producing_layer_sees_its_output_unchanged():
    captured = {}
    model = st.nn.Sequential(st.nn.Conv2d(1, 4, 3, padding=1), st.nn.ReLU())
    model[0].register_forward_hook(lambda module, args, out: captured.setdefault("conv", out))
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    y = model(x)
    assert (captured["conv"] < 0).any() and not np.shares_memory(captured["conv"], y)
    block = ResidualBlock(2, 2)
    block.bn1.register_forward_hook(lambda module, args, out: captured.setdefault("bn1", out))
    block.bn2.register_forward_hook(lambda module, args, out: captured.setdefault("bn2", out))
    out = block(np.random.default_rng(1).standard_normal((2, 2, 4, 4)).astype(np.float32))
    assert (captured["bn1"] < 0).any() and (captured["bn2"] < 0).any()  # neither ReLU'd nor summed into
    assert not np.shares_memory(captured["bn2"], out)


def test_a_kernel_that_keeps_its_output_is_not_overwritten():
    # The reference batch norm without affine keeps x_hat, which is its output: the check reads what the
    # forward kept, so the ReLU after it allocates.
    bn, relu = st.nn.BatchNorm2d(3, affine=False), st.nn.ReLU()
    x = np.random.default_rng(0).standard_normal((4, 3, 5, 5))
    bn.to(np.float64)
    use_reference(True)
    try:
        y = bn(x)
        assert not inplace.is_private_output(bn, y)
        assert not np.shares_memory(inplace.relu_over(relu, bn, y), y)
    finally:
        use_reference(False)
    y = bn(x)  # the fast kernel keeps the centred input, a separate array
    assert inplace.is_private_output(bn, y) and inplace.relu_over(relu, bn, y) is y


def test_add_over_keeps_dtype_and_shape_rules():
    conv = st.nn.Conv2d(1, 2, 1)
    y = conv(np.ones((1, 1, 2, 2), np.float32))
    assert inplace.add_over(conv, y, np.ones((1, 2, 2, 2), np.float32)) is y  # summed into y
    y = conv(np.ones((1, 1, 2, 2), np.float32))
    assert inplace.add_over(conv, y, np.ones((1, 2, 2, 2), np.float64)).dtype == np.float64  # promotes: new
    y = conv(np.ones((1, 1, 1, 1), np.float32))
    assert inplace.add_over(conv, y, np.ones((3, 2, 1, 1), np.float32)).shape == (3, 2, 1, 1)  # broadcasts: new


def test_sequential_and_blocks_take_the_in_place_paths(monkeypatch):
    overwritten = []
    original = inplace.relu_over

    def spy(relu, producer, x):
        y = original(relu, producer, x)
        overwritten.append(y is x)
        return y

    monkeypatch.setattr(inplace, "relu_over", spy)
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
    st.nn.Sequential(st.nn.Conv2d(3, 4, 3), st.nn.ReLU(), st.nn.BatchNorm2d(4), st.nn.ReLU())(x)
    assert overwritten == [True, True]
    overwritten.clear()
    monkeypatch.setattr(blocks, "relu_over", spy)
    ResidualBlock(3, 3)(x)
    assert overwritten == [True]


def test_a_layer_whose_forward_is_replaced_on_the_instance_is_watched():
    # strided.nn.capture and the web page's trace wrap forward on the instance and follow arrays by identity:
    # a residual block summing into bn2's output would hand on bn2's array as its own (and vanish from the page).
    block = ResidualBlock(2, 2)
    seen = {}
    original = block.bn2.forward
    object.__setattr__(block.bn2, "forward", lambda x: seen.setdefault("bn2", original(x)))
    out = block(np.random.default_rng(0).standard_normal((2, 2, 4, 4)).astype(np.float32))
    assert not np.shares_memory(seen["bn2"], out)
    del block.bn2.forward
    conv = st.nn.Conv2d(1, 2, 3)
    y = conv(np.ones((1, 1, 4, 4), np.float32))
    assert inplace.is_private_output(conv, y)
    object.__setattr__(conv, "forward", conv.forward)
    assert not inplace.is_private_output(conv, y)
