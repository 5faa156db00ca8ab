"""Under mixed precision every gradient a composite hands from one child to another is stored in 16 bits.

Sequential, the residual, dense and inverted-residual blocks, the FPN and Graph models all call
``Module.pass_gradient`` on each gradient they pass; these tests hook every module of every model builder
(``register_full_backward_pre_hook``) and look at the dtype of the gradient each one receives. The only
float32 gradients allowed are the caller's own (the loss gradient handed to the model, which the model
passes unchanged down to its output layer): they are recognised by identity.
"""

import sys

import numpy as np
import pytest

import strided as st
from strided.models import MODEL_BUILDERS

# The generic densenet builder defaults to densenet121 (tested under that name): a small one here.
KWARGS = {"densenet": {"block_config": (2, 3), "growth_rate": 8, "num_init_features": 16}}


def _received_gradients(model, x, dtype):
    """Run forward under ``dtype`` storage and backward; [(module name, gradient received)], and the seeds."""
    received = []
    for name, module in model.named_modules():
        if module is not model:
            module.register_full_backward_pre_hook(
                lambda m, grad, name=name: received.append((name, grad[0])))
    with st.amp.autocast(dtype=dtype):
        y = model(x)
    seeds = {k: np.full_like(v, 1e-3) for k, v in y.items()} if isinstance(y, dict) else np.full_like(y, 1e-3)
    # Batch norm over the two values of a batch of 2 at 1x1 can give gradients past float16's 65504 (a real
    # step would be skipped by the GradScaler): only the dtypes matter here, not the values.
    with np.errstate(over="ignore", invalid="ignore"):
        model.backward(seeds)
    flat = [(name, g) for name, grad in received for g in (grad.values() if isinstance(grad, dict) else [grad])]
    return flat, {id(s) for s in (seeds.values() if isinstance(seeds, dict) else [seeds])}


def _build(name, monkeypatch):
    if name.startswith("vgg"):  # the same layers with a 64-wide classifier: 4096 wide is 120M weights, 20 s to build
        monkeypatch.setattr(sys.modules["strided.models.vgg"], "HIDDEN", 64)
    st.manual_seed(0)
    model = MODEL_BUILDERS[name](**KWARGS.get(name, {}))
    side = max(getattr(model, "min_input_size", 1), 8)  # batch 2: every batch norm sees two values or more
    x = np.random.default_rng(0).standard_normal((2, getattr(model, "in_channels", 3), side, side))
    return model, x.astype(np.float32)


# vgg (depth 11 by default), vgg16 and vgg19 are vgg11's and vgg13's modules again (a Graph of Sequentials), at 3-5 s
NOT_HERE = {"vgg", "vgg16", "vgg19"}


@pytest.mark.parametrize("name", sorted(set(MODEL_BUILDERS) - NOT_HERE))
def test_every_child_of_every_model_receives_a_16_bit_gradient(name, monkeypatch):
    model, x = _build(name, monkeypatch)
    received, seeds = _received_gradients(model, x, np.float16)
    not_stored = [(name, g.dtype) for name, g in received if id(g) not in seeds and g.dtype != np.float16]
    assert not not_stored, not_stored
    passed_on = [name for name, g in received if id(g) in seeds]  # the seeds reach only the output layer(s)
    assert len(passed_on) <= 3 * len(seeds) and len(received) > len(passed_on), passed_on


@pytest.mark.parametrize("name", ["resnet_cifar20", "densenet", "mobilenet_v2"])
def test_bfloat16_and_float32_hand_offs(name, monkeypatch):
    """bfloat16 is stored as float16 is; without autocast every hand-off keeps float32 (a no-op)."""
    model, x = _build(name, monkeypatch)
    bf16 = st.amp.bfloat16()
    received, seeds = _received_gradients(model, x, bf16)
    assert {g.dtype for _, g in received if id(g) not in seeds} == {bf16}
    model, x = _build(name, monkeypatch)
    received, _ = _received_gradients(model, x, None)
    assert {g.dtype for _, g in received} == {np.dtype(np.float32)}


def test_a_block_whose_backward_runs_after_autocast_still_stores():
    """The policy is the forward's (recorded by Module.__call__), as the saved contexts' is."""
    block = st.nn.ResidualBlock(3, 4, stride=2)
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    with st.amp.autocast(dtype=np.float16):
        y = block(x)
    dtypes = []
    block.conv2.register_full_backward_pre_hook(lambda m, grad: dtypes.append(grad[0].dtype))
    assert block.backward(np.ones_like(y)).dtype == np.float16
    assert dtypes == [np.float16]
    y = block(x)  # a float32 forward: the next backward passes float32 again
    assert block.backward(np.ones_like(y)).dtype == np.float32 and dtypes[-1] == np.float32
