"""The fused batch norm + (residual add) + ReLU kernel: fast equals reference (float64 1e-12), the reference equals
the three kernels composed by hand, and the layers that use it (Sequential, the ResNet blocks) keep their parity with
PyTorch and with numerical gradients, falling back to the separate layers when a hook is registered."""

import numpy as np
import pytest
import torch

import strided as st
from strided.functional import fast, reference
from tests.helpers import check_numerical_gradients, check_torch_parity, rel_error

nn = st.nn
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def _arguments(rng, shape, dtype, affine, bias, training, tracked):
    c = shape[1]
    weight = rng.uniform(0.5, 1.5, c).astype(dtype) * rng.choice([-1, 1], c).astype(dtype) if affine else None
    shift = rng.standard_normal(c).astype(dtype) if bias else None
    mean = rng.standard_normal(c).astype(dtype) if tracked else None
    var = rng.uniform(0.5, 2.0, c).astype(dtype) if tracked else None
    return mean, var, weight, shift, training, 0.1, 1e-5


def _run(package, x, arguments, residual, grad):
    arguments = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in arguments)  # running stats change
    y, ctx = package.batch_norm_relu_forward(x, *arguments, residual)
    return (y, *ctx.backward(grad), arguments[0], arguments[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (5, 4), (2, 3, 7), (6, 2, 3, 3)])
@pytest.mark.parametrize("training,tracked", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("with_residual", [False, True])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_fast_equals_reference(dtype, shape, training, tracked, with_residual, affine, bias):
    rng = np.random.default_rng(sum(shape) + 7 * training + 3 * with_residual + affine + bias)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    residual = rng.standard_normal(shape).astype(dtype) if with_residual else None
    grad = rng.standard_normal(shape).astype(dtype)
    arguments = _arguments(rng, shape, dtype, affine, bias, training, tracked)
    for ours, theirs in zip(_run(fast, x, arguments, residual, grad), _run(reference, x, arguments, residual, grad),
                            strict=True):
        if theirs is None:
            assert ours is None
            continue
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        assert rel_error(ours, theirs) <= TOL[dtype]


@pytest.mark.parametrize("with_residual", [False, True])
def test_reference_is_the_three_kernels_composed(with_residual):
    rng = np.random.default_rng(1)
    x, residual, grad = (rng.standard_normal((3, 4, 5, 5)) for _ in range(3))
    arguments = _arguments(rng, x.shape, np.float64, True, True, True, True)
    fused = _run(reference, x, arguments, residual if with_residual else None, grad)
    bn_args = tuple(a.copy() if isinstance(a, np.ndarray) else a for a in arguments)
    z, bn_ctx = reference.batch_norm_forward(x, *bn_args)
    y, relu_ctx = reference.relu_forward(z + residual if with_residual else z)
    g = relu_ctx.backward(grad)
    expected = (y, *bn_ctx.backward(g), g if with_residual else None, bn_args[0], bn_args[1])
    for ours, theirs in zip(fused, expected, strict=True):
        assert (ours is None and theirs is None) or rel_error(ours, theirs) == 0.0


def test_an_empty_batch_and_no_backward():
    x = np.zeros((0, 3, 4, 4))
    arguments = _arguments(np.random.default_rng(2), x.shape, np.float64, True, True, True, True)
    y, ctx = fast.batch_norm_relu_forward(x, *arguments)
    assert y.shape == x.shape and ctx.backward(np.zeros_like(x))[0].shape == x.shape
    x = np.random.default_rng(3).standard_normal((2, 3, 4, 4))
    y, ctx = fast.batch_norm_relu_forward(x, *arguments, need_backward=False)
    assert ctx is None and (y >= 0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hooked", [False, True])
def test_sequential_training_matches_pytorch(dtype, hooked):
    st.manual_seed(0)
    # no biases before the batch norms: their exact gradient is 0 (the batch mean removes them), rounding noise
    ours = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.Conv2d(4, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 4 * 4, 5, bias=False), nn.BatchNorm1d(5), nn.ReLU())
    calls = []
    if hooked:  # a hook on the ReLU: the two layers run one after the other, and the hook sees its call
        ours[2].register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    tnn = torch.nn
    theirs = tnn.Sequential(tnn.Conv2d(2, 4, 3, padding=1, bias=False), tnn.BatchNorm2d(4), tnn.ReLU(),
                            tnn.Conv2d(4, 4, 3, bias=False), tnn.BatchNorm2d(4), tnn.ReLU(), tnn.Flatten(),
                            tnn.Linear(4 * 4 * 4, 5, bias=False), tnn.BatchNorm1d(5), tnn.ReLU())
    x = np.random.default_rng(4).standard_normal((6, 2, 6, 6)).astype(dtype)
    check_torch_parity(ours.to(dtype), theirs, x)
    fused_pairs = [False, True, False, True, False, False, True]
    assert [with_relu for _, with_relu in ours._steps] == ([False] * 3 + fused_pairs[2:] if hooked else fused_pairs)
    assert calls == ([(6, 4, 6, 6)] if hooked else [])
    running = {k: v for k, v in ours.state_dict().items() if "running" in k}
    for key, value in running.items():  # the running statistics were updated as PyTorch's
        assert rel_error(value, theirs.state_dict()[key].numpy()) <= TOL[dtype], key


@pytest.mark.parametrize("block", [lambda: nn.ResidualBlock(3, 4, stride=2), lambda: nn.ResidualBlock(4, 4),
                                   lambda: nn.Bottleneck(8, 2), lambda: nn.Bottleneck(4, 2, stride=2)])
@pytest.mark.parametrize("training", [True, False])
def test_blocks_numerical_gradients_and_the_unfused_path(block, training):
    st.manual_seed(1)
    model = block().double().train(training)
    x = np.random.default_rng(5).standard_normal((3, model.in_channels, 5, 5))
    if not training:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean[...] = 0.3
                m.running_var[...] = 1.7
    check_numerical_gradients(model, x)
    grad = np.random.default_rng(6).standard_normal(model(x).shape)
    state = {k: v.copy() for k, v in model.state_dict().items()}
    model.zero_grad()
    y_fused, dx_fused = model(x), model.backward(grad)
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.zero_grad()
    model.load_state_dict(state)
    handle = model.relu.register_forward_hook(lambda module, inputs, output: None)  # the unfused path
    y, dx = model(x), model.backward(grad)
    handle.remove()
    assert rel_error(y_fused, y) <= 1e-12 and rel_error(dx_fused, dx) <= 1e-12
    for name, p in model.named_parameters():
        assert rel_error(grads[name], p.grad) <= 1e-12, name


def test_backward_must_match_the_forward():
    bn = nn.BatchNorm2d(2)
    bn.forward_relu(np.ones((2, 2, 2, 2), np.float32))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(2\): backward_relu\(\) must follow forward_relu\(\)"):
        bn.backward(np.ones((2, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(2\): the residual added to the output has shape \(1, 2\)"):
        bn.forward_relu(np.ones((2, 2, 2, 2), np.float32), residual=np.ones((1, 2), np.float32))
