"""Every fast kernel equals its reference (float64, 1e-12 relative) over many random configurations: forward and
every gradient, every option of every op, the convolution's chunking boundaries and empty batches included."""

import inspect

import numpy as np
import pytest

from strided.functional import fast, reference
from strided.functional.fast import conv as fast_conv
from strided.functional.geometry import pool_geometry
from tests.functional.test_conv_kernels import CALLS, _pad_cases
from tests.helpers import rel_error

TOL = 1e-12


def _same(fast_result, reference_result, what):
    fast_result = fast_result if isinstance(fast_result, tuple) else (fast_result,)
    reference_result = reference_result if isinstance(reference_result, tuple) else (reference_result,)
    for k, (ours, theirs) in enumerate(zip(fast_result, reference_result, strict=True)):
        if ours is None or theirs is None:  # no bias, no bias gradient
            assert ours is theirs, f"{what}[{k}]"
            continue
        assert ours.shape == theirs.shape and ours.dtype == theirs.dtype, f"{what}[{k}]"
        err = rel_error(ours, theirs)
        assert err <= TOL, f"{what}[{k}]: relative error {err:.2e}"


def _both(name, grad_seed, *args, **kwargs):
    """Run kernel ``name`` forward and backward in both packages on the same input; compare everything."""
    y_fast, ctx_fast = getattr(fast, name + "_forward")(*args, **kwargs)
    y_ref, ctx_ref = getattr(reference, name + "_forward")(*args, **kwargs)
    _same(y_fast, y_ref, name)
    grad = np.random.default_rng(grad_seed).standard_normal(y_ref.shape)
    _same(ctx_fast.backward(grad), ctx_ref.backward(grad), name + "_backward")


def test_both_packages_export_the_same_kernels_with_the_same_signatures():
    assert fast.__all__ == reference.__all__
    for name in reference.__all__:
        assert inspect.signature(getattr(fast, name)) == inspect.signature(getattr(reference, name)), name


@pytest.mark.parametrize("call", CALLS, ids=[f"call{i}" for i in range(len(CALLS))])
def test_conv2d(call):
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[:1]))
    _both("conv2d", 2, x, w, b, stride, padding, dilation, groups)
    _both("conv2d", 3, x, w, None, stride, padding, dilation, groups)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("call", [c for c in CALLS if c[0][0] == 3][:6])
def test_conv2d_at_the_chunking_boundaries(call, images_per_chunk, monkeypatch):
    """One image per chunk, and chunks of two with a shorter last one, equal the reference."""
    x_shape, w_shape, stride, padding, dilation, groups = call
    g = fast_conv.conv_geometry(x_shape, w_shape, stride, padding, dilation, groups)
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", images_per_chunk * g.c * g.kh * g.kw * g.grid_h * g.grid_w * 8)
    assert fast_conv.image_chunks(g, np.float64)[0] == images_per_chunk
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[:1]))
    _both("conv2d", 5, x, w, b, stride, padding, dilation, groups)


@pytest.mark.parametrize("padding", [(0, 0, 0, 0), (1, 2, 0, 1)])
def test_conv2d_on_an_empty_batch(padding):
    x, w, b = np.zeros((0, 2, 6, 5)), np.ones((3, 2, 3, 3)), np.ones(3)
    _both("conv2d", 0, x, w, b, (1, 1), padding, (1, 1), 1)
    _both("conv2d", 0, x, w, b, (2, 2), padding, (1, 1), 1)


def _pool_cases(count, seed, dilation=True):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        stride = None if rng.random() < 0.3 else tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
        dil = tuple(int(d) for d in rng.integers(1, 3, 2)) if dilation else (1, 1)
        ceil_mode = bool(rng.random() < 0.4)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *(int(s) for s in rng.integers(2, 13, 2)))
        try:
            pool_geometry(shape[2:], kernel, stride, padding, dil, ceil_mode)
        except ValueError:
            continue
        cases.append((shape, kernel, stride, padding, dil, ceil_mode))
    return cases + [((2, 3, 8, 8), (2, 2), None, (0, 0), (1, 1), False), ((2, 3, 9, 7), (2, 2), (2, 2), (1, 1),
                                                                           (1, 1), True)]


def _input(shape, seed, ties):
    """Random values, or small integers (many ties: the first maximum must win in both)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 3, shape).astype(np.float64) if ties else rng.standard_normal(shape)


@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("case", _pool_cases(30, seed=7), ids=[f"case{i}" for i in range(32)])
def test_max_pool2d(case, ties):
    shape, kernel, stride, padding, dilation, ceil_mode = case
    _both("max_pool2d", 1, _input(shape, 0, ties), kernel, stride, padding, dilation, ceil_mode)


@pytest.mark.parametrize("options", [(True, None), (False, None), (True, 3)], ids=["with-pad", "without-pad", "div3"])
@pytest.mark.parametrize("case", _pool_cases(20, seed=8, dilation=False), ids=[f"case{i}" for i in range(22)])
def test_avg_pool2d(case, options):
    shape, kernel, stride, padding, _, ceil_mode = case
    count_include_pad, divisor = options
    _both("avg_pool2d", 1, _input(shape, 0, False), kernel, stride, padding, ceil_mode, count_include_pad, divisor)


ADAPTIVE = [((2, 3, 8, 8), 4), ((2, 3, 8, 8), 1), ((1, 2, 7, 9), (3, 4)), ((2, 2, 5, 6), (5, None)),
            ((1, 3, 10, 7), (4, 7)), ((2, 1, 3, 3), 3), ((1, 2, 9, 4), (2, 3)), ((0, 2, 6, 6), 4)]


@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("shape, output_size", ADAPTIVE)
def test_adaptive_pooling(shape, output_size, ties):
    x = _input(shape, 1, ties)
    _both("adaptive_avg_pool2d", 2, x, output_size)
    _both("adaptive_max_pool2d", 2, x, output_size)


@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("shape, kernel, out_hw", [((2, 3, 9, 9), 2, (4, 4)), ((1, 2, 11, 8), (3, 2), (5, 6)),
                                                   ((2, 1, 6, 6), 3, (4, 1)), ((0, 2, 6, 6), 2, (3, 3))])
def test_fractional_max_pool2d(shape, kernel, out_hw, ties):
    samples = np.random.default_rng(3).random(shape[:2] + (2,))
    _both("fractional_max_pool2d", 2, _input(shape, 1, ties), kernel, out_hw, samples)


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 4, 5), (0, 3, 4, 4)])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_batch_norm(shape, training, affine):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape) * 3 + 1.5
    channels = shape[1]
    weight = None if affine == "none" else rng.standard_normal(channels)
    bias = rng.standard_normal(channels) if affine == "both" else None
    stats = {k: (rng.standard_normal(channels), rng.random(channels) + 0.5) for k in ("fast", "reference")}
    stats["reference"] = tuple(a.copy() for a in stats["fast"])
    y_fast, ctx_fast = fast.batch_norm_forward(x, *stats["fast"], weight, bias, training, 0.1, 1e-5)
    y_ref, ctx_ref = reference.batch_norm_forward(x, *stats["reference"], weight, bias, training, 0.1, 1e-5)
    _same(y_fast, y_ref, "batch_norm")
    _same(stats["fast"], stats["reference"], "running statistics")
    grad = rng.standard_normal(shape)
    _same(ctx_fast.backward(grad), ctx_ref.backward(grad), "batch_norm_backward")


ACTIVATIONS = [("relu", ()), ("leaky_relu", (0.2,)), ("leaky_relu", (1.5,)), ("leaky_relu", (-0.5,)), ("elu", (1.3,)),
               ("gelu", ("none",)), ("gelu", ("tanh",)), ("sigmoid", ()), ("tanh", ()), ("softmax", (1,)),
               ("softmax", (-1,)), ("log_softmax", (1,)), ("log_softmax", (0,))]


@pytest.mark.parametrize("name, arguments", ACTIVATIONS, ids=[f"{n}{a}" for n, a in ACTIVATIONS])
def test_activations(name, arguments):
    x = np.random.default_rng(6).standard_normal((3, 4, 5, 6)) * 4
    x[0, 0, 0, :3] = 0.0  # the derivative's value at 0 matters too
    _both(name, 7, x, *arguments)


@pytest.mark.parametrize("shape, padding, mode", _pad_cases(40, seed=9))
def test_pad2d(shape, padding, mode):
    _both("pad2d", 1, np.random.default_rng(0).standard_normal(shape), padding, mode, 0.75)


def test_kernels_without_a_faster_path_are_the_reference_itself():
    for name in ("linear", "dropout", "cross_entropy", "nll", "mse", "bce_with_logits", "conv_transpose2d",
                 "interpolate", "layer_norm", "group_norm"):
        assert getattr(fast, name + "_forward") is getattr(reference, name + "_forward")
