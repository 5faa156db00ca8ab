"""BatchNorm1d and BatchNorm2d: parity with torch.nn in both modes, running statistics, gradients, errors."""

import zlib

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close, check_numerical_gradients, check_torch_parity

SHAPES = {
    "BatchNorm1d": [(4, 3), (2, 5), (7, 1), (3, 4, 5), (1, 2, 3), (2, 3, 1)],
    "BatchNorm2d": [(4, 3, 5, 5), (1, 2, 3, 4), (2, 3, 1, 1), (5, 1, 2, 3), (3, 6, 4, 2)],
}
OPTIONS = [  # constructor keyword arguments
    {}, {"affine": False}, {"track_running_stats": False}, {"affine": False, "track_running_stats": False},
    {"momentum": None, "eps": 1e-3}, {"momentum": 0.7}, {"bias": False},
]


def _well_conditioned_in_float32(shape, options, training):
    """Whether float32 can resolve the gradients to 1e-5 at all.

    With batch statistics over n = 2 values per channel, x_hat = +-sqrt(var / (var + eps)) and the
    exact input gradient is about eps / var times the size of the terms it is computed from; with
    a single channel, dweight is one sum that random gradients can cancel a thousandfold. float32
    rounding (PyTorch's too) then exceeds 1e-5 of the result, so those cases are float64 only.
    """
    batch_stats = training or options.get("track_running_stats") is False
    return shape[1] >= 2 and not (batch_stats and np.prod(shape) // shape[1] <= 2)


CASES = [(name, shape, options, training, dtype)
         for name, shapes in SHAPES.items() for shape in shapes for options in OPTIONS
         for training in (True, False) for dtype in (np.float64, np.float32)
         if dtype == np.float64 or _well_conditioned_in_float32(shape, options, training)]


def _case_id(case):
    name, shape, options, training, dtype = case
    args = "-".join(f"{k}={v}" for k, v in options.items())
    return f"{name}-{'x'.join(map(str, shape))}-{args}-{'train' if training else 'eval'}-{np.dtype(dtype).name}"


def _randomise(layer, rng):
    """Move weight, bias and running statistics off their defaults so every term of the math is exercised."""
    c = layer.num_features
    if layer.affine:
        layer.weight.data[...] = rng.uniform(0.5, 1.5, c)
    if layer.bias is not None:
        layer.bias.data[...] = rng.standard_normal(c)
    if layer.track_running_stats:
        layer.running_mean[...] = rng.standard_normal(c)
        layer.running_var[...] = rng.uniform(0.5, 2.0, c)
        layer.num_batches_tracked[...] = 3
    return layer


def _input(shape, rng, dtype=np.float64):
    """Per-channel offsets and scales, as a conv layer's output would have."""
    broadcast = (1, shape[1]) + (1,) * (len(shape) - 2)
    offset = rng.uniform(-2, 2, broadcast)
    scale = rng.uniform(0.5, 3, broadcast)
    return (rng.standard_normal(shape) * scale + offset).astype(dtype)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_parity_with_torch(case):
    name, shape, options, training, dtype = case
    rng = np.random.default_rng(zlib.crc32(_case_id(case).encode()))
    ours = _randomise(getattr(st.nn, name)(shape[1], **options).to(dtype), rng)
    theirs = getattr(torch.nn, name)(shape[1], **options).train(training)
    check_torch_parity(ours, theirs, _input(shape, rng, dtype), seed=int(rng.integers(2**31)))
    # the running statistics both updated (training) or both left alone (eval)
    for key, value in theirs.state_dict().items():
        assert_close(ours.state_dict()[key], value.numpy(), TOLERANCE[np.dtype(dtype)], key)


@pytest.mark.parametrize("momentum", [0.1, None, 0.7])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 4)),
                                         ("BatchNorm1d", (3, 2, 7))])
def test_running_statistics_after_several_steps_equal_torchs(name, shape, momentum, dtype):
    rng = np.random.default_rng(11)
    ours = getattr(st.nn, name)(shape[1], momentum=momentum).to(dtype)
    theirs = getattr(torch.nn, name)(shape[1], momentum=momentum).to(torch.float64 if dtype == np.float64 else
                                                                         torch.float32)
    tol = TOLERANCE[np.dtype(dtype)]
    for _ in range(5):
        x = _input(shape, rng, dtype)
        ours(x)
        theirs(torch.from_numpy(x))
    for key in ("running_mean", "running_var"):
        assert ours.state_dict()[key].dtype == dtype
        assert_close(ours.state_dict()[key], theirs.state_dict()[key].numpy(), tol, key)
    assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()
    assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked) == 5
    # evaluation then uses those running statistics
    x = _input(shape, rng, dtype)
    assert_close(ours.eval()(x), theirs.eval()(torch.from_numpy(x)).detach().numpy(), tol, "eval output")


def test_running_var_uses_the_unbiased_variance():
    x = np.random.default_rng(0).standard_normal((6, 2))
    layer = st.nn.BatchNorm1d(2, momentum=1.0).double()
    layer(x)
    np.testing.assert_allclose(layer.running_mean, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, x.var(axis=0, ddof=1), rtol=1e-14)


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (3, 2, 4)),
                                         ("BatchNorm2d", (3, 2, 3, 3))])
@pytest.mark.parametrize("options", [{}, {"affine": False}, {"bias": False}, {"track_running_stats": False}])
@pytest.mark.parametrize("training", [True, False])
def test_numerical_gradients(name, shape, options, training):
    rng = np.random.default_rng(5)
    layer = _randomise(getattr(st.nn, name)(shape[1], **options).double(), rng).train(training)
    check_numerical_gradients(layer, _input(shape, rng))


def test_state_dict_keys_and_dtypes_are_pytorchs():
    for options in OPTIONS:
        ours, theirs = st.nn.BatchNorm2d(3, **options), torch.nn.BatchNorm2d(3, **options)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        assert repr(ours) == repr(theirs)
    layer = st.nn.BatchNorm2d(3).double()
    assert layer.running_mean.dtype == np.float64 and layer.num_batches_tracked.dtype == np.int64
    torch_state = torch.nn.BatchNorm2d(3).state_dict()
    layer.load_state_dict({k: v.numpy() for k, v in torch_state.items()})


def test_one_value_per_channel_is_an_error_in_training_only():
    message = r"BatchNorm1d\(3\): expected more than 1 value per channel when training, got input of shape \(1, 3\)"
    with pytest.raises(ValueError, match=message):
        st.nn.BatchNorm1d(3)(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):
        st.nn.BatchNorm2d(3)(np.zeros((1, 3, 1, 1), np.float32))
    with pytest.raises(ValueError, match="expected more than 1 value per channel"):  # eval, but no running stats
        st.nn.BatchNorm1d(3, track_running_stats=False).eval()(np.zeros((1, 3), np.float32))
    assert st.nn.BatchNorm1d(3).eval()(np.ones((1, 3), np.float32)).shape == (1, 3)


def test_errors():
    expected = r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\), got"
    with pytest.raises(ValueError, match=expected + r" \(2, 4, 5, 5\)"):
        st.nn.BatchNorm2d(3)(np.zeros((2, 4, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of shape \(N, 3, H, W\), got \(2, 3\)"):
        st.nn.BatchNorm2d(3)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected input of shape \(N, 3\) or \(N, 3, L\), "
                                         r"got \(2, 3, 4, 4\)"):
        st.nn.BatchNorm1d(3)(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): input dtype float64 does not match the layer's float32"):
        st.nn.BatchNorm1d(3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="num_features must be a positive integer, got 0"):
        st.nn.BatchNorm2d(0)
    layer = st.nn.BatchNorm2d(2)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 2, 3, 3), np.float32))
    layer(np.ones((2, 2, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(2, 2, 3, 3\)"):
        layer.backward(np.zeros((2, 2, 3), np.float32))


def test_float32_stays_float32_through_training_and_eval():
    layer = st.nn.BatchNorm2d(3)
    x = _input((4, 3, 2, 2), np.random.default_rng(0), np.float32)
    for mode in (True, False):
        layer.train(mode)
        assert layer(x).dtype == np.float32
        assert layer.backward(np.ones_like(x)).dtype == np.float32
        assert layer.weight.grad.dtype == np.float32 and layer.running_var.dtype == np.float32
