"""The channels-last convolution (fast/conv_nhwc.py) equals the reference (float64, 1e-12 relative): forward,
dx, dW, db, on many shapes (odd sizes, asymmetric padding and strides, other kernel sizes when called directly);
fast.conv2d_forward sends it exactly the calls of its rule (they match PyTorch, float64 and float32), everything
else to the grid path."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from strided.functional import fast, reference, storage
from strided.functional.fast import conv_nhwc
from tests.helpers import TOLERANCE, assert_close, rel_error

TOL = 1e-12

# (x shape, weight shape, stride, padding (left, right, top, bottom)): called directly, any kernel size
DIRECT = [
    ((2, 3, 5, 7), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((3, 5, 9, 6), (2, 5, 3, 3), (2, 2), (1, 1, 1, 1)),
    ((1, 4, 7, 7), (6, 4, 1, 1), (2, 2), (0, 0, 0, 0)),
    ((2, 2, 8, 11), (3, 2, 2, 3), (1, 2), (0, 2, 1, 0)),
    ((2, 3, 6, 5), (5, 3, 3, 3), (3, 2), (2, 0, 1, 2)),
    ((1, 2, 4, 4), (3, 2, 4, 4), (1, 1), (0, 0, 0, 0)),  # one output pixel
    ((2, 3, 7, 9), (4, 3, 5, 3), (2, 1), (2, 1, 2, 1)),
]
# Calls of the rule: at least 32 input channels, at most 100 output pixels per image, 1x1 or 3x3
DISPATCHED = [
    ((2, 32, 16, 16), (8, 32, 3, 3), (2, 2), (1, 1, 1, 1)),  # resnet-cifar's 32->64 /2, fewer outputs
    ((3, 33, 9, 7), (5, 33, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((1, 40, 8, 8), (6, 40, 3, 3), (1, 1), (1, 1, 1, 1)),
    ((2, 32, 15, 17), (4, 32, 1, 1), (2, 2), (0, 0, 0, 0)),  # the 1x1 /2 shortcut, odd sizes
    ((2, 32, 11, 13), (3, 32, 3, 3), (2, 2), (0, 1, 1, 0)),
]


def _compare(forward, x_shape, w_shape, stride, padding, seed, bias=True):
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0]) if bias else None
    y, ctx = forward(x, w, b, stride, padding)
    y_ref, ctx_ref = reference.conv2d_forward(x, w, b, stride, padding, (1, 1), 1)
    assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
    assert rel_error(y, y_ref) <= TOL
    grad = rng.standard_normal(y_ref.shape)
    ours, theirs = ctx.backward(grad), ctx_ref.backward(grad)
    for name, a, b_ in zip(("dx", "dW", "db"), ours, theirs, strict=True):
        if b_ is None:
            assert a is None, name
            continue
        assert a.shape == b_.shape and a.dtype == b_.dtype, name
        assert rel_error(a, b_) <= TOL, f"{name}: {rel_error(a, b_):.2e}"
    return ctx


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("call", DIRECT + DISPATCHED, ids=[f"call{i}" for i in range(len(DIRECT + DISPATCHED))])
def test_channels_last_conv_equals_the_reference(call, bias):
    _compare(conv_nhwc.conv2d_forward, *call, seed=len(call[0]) + call[0][1], bias=bias)


@pytest.mark.parametrize("call", DISPATCHED, ids=[f"call{i}" for i in range(len(DISPATCHED))])
def test_fast_conv2d_sends_the_rules_calls_here_and_equals_the_reference(call):
    x_shape, w_shape, stride, padding = call
    assert conv_nhwc.nhwc_applies(x_shape, w_shape, stride, padding, (1, 1), 1, np.float64)

    def forward(x, w, b, stride, padding):
        return fast.conv2d_forward(x, w, b, stride, padding, (1, 1), 1)

    ctx = _compare(forward, *call, seed=7)
    assert ctx._backward is conv_nhwc.conv2d_backward


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("call", DISPATCHED, ids=[f"call{i}" for i in range(len(DISPATCHED))])
def test_dispatched_calls_match_torch(call, dtype):
    x_shape, w_shape, stride, padding = call
    rng = np.random.default_rng(11)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    y, ctx = fast.conv2d_forward(x, w, b, stride, padding, (1, 1), 1)
    assert ctx._backward is conv_nhwc.conv2d_backward
    grad = rng.standard_normal(y.shape).astype(dtype)
    grad_x, grad_w, grad_b = ctx.backward(grad)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(F.pad(xt, padding), wt, bt, stride)
    yt.backward(torch.from_numpy(grad))
    for ours, theirs, what in ((y, yt, "y"), (grad_x, xt.grad, "dx"), (grad_w, wt.grad, "dW"), (grad_b, bt.grad, "db")):
        assert ours.dtype == dtype, what
        assert_close(ours, theirs.detach().numpy(), TOLERANCE[np.dtype(dtype)], what)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups, dtype", [
    ((2, 16, 16, 16), (8, 16, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, np.float64),  # 16 input channels
    ((2, 32, 12, 12), (8, 32, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, np.float64),  # 144 output pixels
    ((2, 32, 8, 8), (8, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2, np.float64),  # groups
    ((2, 32, 8, 8), (8, 32, 3, 3), (1, 1), (2, 2, 2, 2), (2, 2), 1, np.float64),  # dilation
    ((2, 32, 8, 8), (8, 32, 5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 1, np.float64),  # 5x5: not measured
    ((2, 32, 8, 8), (8, 32, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, np.float16),
    ((0, 32, 8, 8), (8, 32, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, np.float64),  # empty batch
    ((2, 32, 1, 1), (8, 32, 3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, np.float64),  # no output
])
def test_everything_else_stays_on_the_grid_path(x_shape, w_shape, stride, padding, dilation, groups, dtype):
    assert not conv_nhwc.nhwc_applies(x_shape, w_shape, stride, padding, dilation, groups, dtype)


def test_float32_matches_float64_and_a_second_backward_is_refused():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 32, 8, 8)), rng.standard_normal((16, 32, 3, 3)), rng.standard_normal(16)
    y64, ctx64 = conv_nhwc.conv2d_forward(x, w, b, (1, 1), (1, 1, 1, 1))
    y32, ctx32 = conv_nhwc.conv2d_forward(*(a.astype(np.float32) for a in (x, w, b)), (1, 1), (1, 1, 1, 1))
    assert y32.dtype == np.float32 and rel_error(y32, y64) <= 1e-5
    grad = rng.standard_normal(y64.shape)
    for a, b_ in zip(ctx32.backward(grad.astype(np.float32)), ctx64.backward(grad), strict=True):
        assert a.dtype == np.float32 and rel_error(a, b_) <= 1e-5
    with pytest.raises(RuntimeError, match="backward already ran"):
        ctx32.backward(grad.astype(np.float32))


def test_mixed_precision_keeps_the_padded_input_in_16_bits():
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 32, 8, 8)).astype(np.float32), rng.standard_normal((8, 32, 3, 3)).astype(np.float32)
    storage.set_storage_dtype(np.float16)
    try:
        y, ctx = conv_nhwc.conv2d_forward(x, w, None, (2, 2), (1, 1, 1, 1))
        assert ctx.padded.dtype == np.float16
        grad = rng.standard_normal(y.shape).astype(np.float32)
        dx, dw, db = ctx.backward(grad)
    finally:
        storage.set_storage_dtype(None)
    # The same gradients as in float32 from the input rounded to 16 bits (what the backward reads).
    _, ctx32 = conv_nhwc.conv2d_forward(x.astype(np.float16).astype(np.float32), w, None, (2, 2), (1, 1, 1, 1))
    dx32, dw32, db32 = ctx32.backward(grad)
    assert db is None and db32 is None
    assert dx.dtype == dw.dtype == np.float32
    np.testing.assert_array_equal(dx, dx32)
    np.testing.assert_array_equal(dw, dw32)
