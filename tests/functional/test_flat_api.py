"""The flat API, st.functional: torch.nn.functional's names and signatures, and a backward for each op that a
learner calls with the forward's arguments; each checked against PyTorch (float64), on both kernel paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import strided as st
from tests.helpers import assert_close

SF = st.functional
TOL = 1e-9


@pytest.fixture(params=[False, True], ids=["fast", "reference"], autouse=True)
def kernels(request):
    SF.use_reference(request.param)
    yield
    SF.use_reference(False)


def _torch(fn, x, *args, grad=None, **kwargs):
    """(y, dL/dx) of a torch function for the incoming gradient ``grad`` (ones if None)."""
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(xt, *args, **kwargs)
    yt.backward(torch.ones_like(yt) if grad is None else torch.from_numpy(grad))
    return yt.detach().numpy(), xt.grad.numpy()


X = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
G = np.random.default_rng(1).standard_normal


@pytest.mark.parametrize("name, args, kwargs", [
    ("max_pool2d", (3,), dict(stride=2, padding=1, dilation=1, ceil_mode=True)),
    ("avg_pool2d", (2,), dict(stride=1, padding=1, count_include_pad=False)),
    ("adaptive_avg_pool2d", ((4, 3),), {}),
    ("adaptive_max_pool2d", (5,), {}),
    ("relu", (), {}), ("leaky_relu", (0.2,), {}), ("elu", (0.7,), {}), ("gelu", (), dict(approximate="tanh")),
    ("sigmoid", (), {}), ("tanh", (), {}), ("softmax", (), dict(dim=1)), ("log_softmax", (), dict(dim=3)),
])
def test_pooling_and_activations(name, args, kwargs):
    y = getattr(SF, name)(X, *args, **kwargs)
    grad = G(y.shape)
    y_torch, dx_torch = _torch(getattr(F, name) if hasattr(F, name) else getattr(torch, name), X, *args,
                               grad=grad, **kwargs)
    assert_close(y, y_torch, TOL, name)
    assert_close(getattr(SF, name + "_backward")(grad, X, *args, **kwargs), dx_torch, TOL, name + "_backward")


def test_fractional_max_pool2d_with_given_samples():
    samples = np.random.default_rng(2).random((2, 3, 2))
    y = SF.fractional_max_pool2d(X, 2, output_size=(4, 5), _random_samples=samples)
    grad = G(y.shape)
    y_torch, dx_torch = _torch(F.fractional_max_pool2d, X, 2, grad=grad, output_size=(4, 5),
                               _random_samples=torch.from_numpy(samples))
    assert_close(y, y_torch, TOL, "fractional_max_pool2d")
    dx = SF.fractional_max_pool2d_backward(grad, X, 2, output_size=(4, 5), _random_samples=samples)
    assert_close(dx, dx_torch, TOL, "fractional_max_pool2d_backward")


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_and_its_backward(training):
    rng = np.random.default_rng(3)
    mean, var = rng.standard_normal(3), rng.random(3) + 0.5
    weight, bias = rng.standard_normal(3), rng.standard_normal(3)
    running = (mean.copy(), var.copy())
    y = SF.batch_norm(X, *running, weight, bias, training=training, momentum=0.2)
    t_running = (torch.from_numpy(mean.copy()), torch.from_numpy(var.copy()))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (X, weight, bias))
    yt = F.batch_norm(xt, *t_running, wt, bt, training=training, momentum=0.2)
    grad = G(y.shape)
    yt.backward(torch.from_numpy(grad))
    assert_close(y, yt.detach().numpy(), TOL, "batch_norm")
    for ours, theirs in zip(running, t_running, strict=True):
        assert_close(ours, theirs.numpy(), TOL, "running statistics")
    grads = SF.batch_norm_backward(grad, X, mean, var, weight, bias, training=training)
    for ours, theirs, what in zip(grads, (xt.grad, wt.grad, bt.grad), ("dx", "dweight", "dbias"), strict=True):
        assert_close(ours, theirs.numpy(), TOL, what)


def test_linear_and_its_backward():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 2, 7)), rng.standard_normal((3, 7)), rng.standard_normal(3)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.linear(xt, wt, bt)
    grad = rng.standard_normal(yt.shape)
    yt.backward(torch.from_numpy(grad))
    assert_close(SF.linear(x, w, b), yt.detach().numpy(), TOL, "linear")
    for ours, theirs in zip(SF.linear_backward(grad, x, w, b), (xt.grad, wt.grad, bt.grad), strict=True):
        assert_close(ours, theirs.numpy(), TOL, "linear_backward")


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_and_its_backward(mode):
    pad = (1, 2, 2, 0)
    grad = G((2, 3, 11, 11))
    y_torch, dx_torch = _torch(F.pad, X, pad, grad=grad, mode=mode)
    assert_close(SF.pad(X, pad, mode), y_torch, TOL, "pad")
    assert_close(SF.pad_backward(grad, X.shape, pad, mode), dx_torch, TOL, "pad_backward")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_and_their_backward(reduction):
    rng = np.random.default_rng(5)
    logits, target = rng.standard_normal((6, 4, 3)), rng.integers(0, 4, (6, 3))
    target[0, 0] = -100
    weight = rng.random(4) + 0.5
    grad = None if reduction != "none" else rng.standard_normal(target.shape)
    cases = (("cross_entropy", dict(weight=weight, label_smoothing=0.1)), ("nll_loss", dict(weight=weight)))
    for name, kwargs in cases:
        xt = torch.tensor(logits, requires_grad=True)
        loss = getattr(F, name)(xt, torch.from_numpy(target), weight=torch.from_numpy(weight), reduction=reduction,
                                **{k: v for k, v in kwargs.items() if k != "weight"})
        loss.backward(torch.ones_like(loss) if grad is None else torch.from_numpy(grad))
        assert_close(getattr(SF, name)(logits, target, reduction=reduction, **kwargs), loss.detach().numpy(), TOL, name)
        ours = getattr(SF, name + "_backward")(grad, logits, target, reduction=reduction, **kwargs)
        assert_close(ours, xt.grad.numpy(), TOL, name + "_backward")
    goal = rng.standard_normal(logits.shape)
    grad = None if reduction != "none" else rng.standard_normal(logits.shape)
    y_torch, dx_torch = _torch(F.mse_loss, logits, torch.from_numpy(goal), grad=grad, reduction=reduction)
    assert_close(SF.mse_loss(logits, goal, reduction), y_torch, TOL, "mse_loss")
    assert_close(SF.mse_loss_backward(grad, logits, goal, reduction), dx_torch, TOL, "mse_loss_backward")


def _torch_grads(fn, arrays, *args, grad, **kwargs):
    """(y, the gradient of each array) of a torch function of several arrays (None: not given)."""
    tensors = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y = fn(*tensors, *args, **kwargs)
    y.backward(torch.from_numpy(grad))
    return y.detach().numpy(), [None if t is None else t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("kwargs", [dict(stride=2, padding=1, output_padding=1), dict(groups=3, dilation=2),
                                    dict(stride=(1, 3), padding=(0, 2), output_padding=(0, 1), groups=1)])
def test_conv_transpose2d_and_its_backward(kwargs):
    rng = np.random.default_rng(6)
    groups = kwargs.get("groups", 1)
    w, b = rng.standard_normal((3, 6 // groups, 3, 2)), rng.standard_normal(6)
    y = SF.conv_transpose2d(X, w, b, **kwargs)
    grad = G(y.shape)
    y_torch, grads_torch = _torch_grads(F.conv_transpose2d, (X, w, b), grad=grad, **kwargs)
    assert_close(y, y_torch, TOL, "conv_transpose2d")
    grads = SF.conv_transpose2d_backward(grad, X, w, **kwargs)
    for ours, theirs, what in zip(grads, grads_torch, ("dx", "dweight", "dbias"), strict=True):
        assert_close(ours, theirs, TOL, what)


@pytest.mark.parametrize("kwargs", [dict(size=(5, 13), mode="bilinear"), dict(scale_factor=1.7, mode="nearest"),
                                    dict(scale_factor=(0.5, 2), mode="bilinear", align_corners=True),
                                    dict(size=4, mode="nearest-exact")])
def test_interpolate_and_its_backward(kwargs):
    y = SF.interpolate(X, **kwargs)
    grad = G(y.shape)
    y_torch, dx_torch = _torch(F.interpolate, X, grad=grad, **kwargs)
    assert_close(y, y_torch, TOL, "interpolate")
    assert_close(SF.interpolate_backward(grad, X, **kwargs), dx_torch, TOL, "interpolate_backward")


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_and_group_norm_and_their_backward(affine):
    rng = np.random.default_rng(7)
    for name, arg, shape in (("layer_norm", (9, 8), (9, 8)), ("layer_norm", 8, (8,)), ("group_norm", 3, (3,))):
        weight, bias = (rng.standard_normal(shape), rng.standard_normal(shape)) if affine else (None, None)
        y = getattr(SF, name)(X, arg, weight, bias, eps=1e-3)
        grad = G(y.shape)
        t_arg = (arg,) if isinstance(arg, int) and name == "layer_norm" else arg
        torch_fn = getattr(F, name)
        y_torch, grads_torch = _torch_grads(lambda x, w, b, f=torch_fn, a=t_arg: f(x, a, w, b, eps=1e-3),
                                            (X, weight, bias), grad=grad)
        assert_close(y, y_torch, TOL, name)
        grads = getattr(SF, name + "_backward")(grad, X, arg, weight, bias, eps=1e-3)
        for ours, theirs, what in zip(grads, grads_torch, ("dx", "dweight", "dbias"), strict=True):
            if theirs is None:
                assert ours is None, f"{name} {what}"
            else:
                assert_close(ours, theirs, TOL, f"{name} {what}")


def test_dropout_keeps_or_scales_each_element():
    st.manual_seed(0)
    y = SF.dropout(np.ones((100, 100)), p=0.25)
    assert set(np.unique(y)) <= {0.0, 1 / 0.75} and 0.2 < np.mean(y == 0) < 0.3
    assert SF.dropout(X, p=0.5, training=False) is X


def test_the_flat_api_has_torch_names_and_a_backward_for_each():
    for name in SF.__all__:
        if name.endswith("_backward"):
            assert name.removesuffix("_backward") in SF.__all__, name
        elif name not in ("kernels", "use_reference", "using_reference", "dropout"):
            assert hasattr(F, name), name
            assert name + "_backward" in SF.__all__, name
