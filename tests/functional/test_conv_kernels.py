"""The convolution and padding kernels on their own, reference and fast: conv2d and its gradients, im2col/col2im,
pad2d and its gradient, against torch.nn.functional."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import strided as st
from strided.functional import args, fast, reference
from strided.functional.fast import conv_layout
from strided.functional.reference import conv as reference_conv
from tests.helpers import TOLERANCE, assert_close

RNG_SEED = 3
KERNELS = {"fast": fast, "reference": reference}


def _random_calls(count, seed):
    """(x shape, weight shape, stride, 4-tuple padding, dilation, groups) with a non-empty output."""
    rng = np.random.default_rng(seed)
    calls = []
    while len(calls) < count:
        groups = int(rng.choice([1, 2, 3]))
        c_in, c_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
        kernel = tuple(int(k) for k in rng.integers(1, 8, 2))
        stride, dilation = tuple(int(s) for s in rng.integers(1, 4, 2)), tuple(int(d) for d in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 4, 4))  # asymmetric: (left, right, top, bottom)
        x_shape = (int(rng.integers(1, 4)), c_in, *(int(s) for s in rng.integers(1, 16, 2)))
        g = conv_layout.conv_geometry(x_shape, (c_out, c_in // groups, *kernel), stride, padding, dilation, groups)
        if g.out_h > 0 and g.out_w > 0:
            calls.append((x_shape, (c_out, c_in // groups, *kernel), stride, padding, dilation, groups))
    return calls


CALLS = _random_calls(40, seed=11) + [  # outputs on the grid: stride 1 with shared padding, and stride phases
    ((2, 3, 8, 8), (4, 3, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ((3, 2, 7, 9), (4, 1, 4, 2), (1, 1), (2, 1, 1, 2), (1, 1), 2),
    ((2, 3, 9, 8), (4, 3, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    ((2, 2, 11, 10), (2, 1, 3, 5), (3, 2), (2, 0, 1, 3), (2, 1), 2),
    ((3, 4, 8, 12), (6, 4, 1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1),
]


@pytest.mark.parametrize("which", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("call", CALLS, ids=[f"call{i}" for i in range(len(CALLS))])
def test_conv2d_forward_and_gradients_match_torch(call, dtype, which):
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(RNG_SEED)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    y, ctx = KERNELS[which].conv2d_forward(x, w, b, stride, padding, dilation, groups)
    grad_y = rng.standard_normal(y.shape).astype(dtype)
    grad_x, grad_w, grad_b = ctx.backward(grad_y)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(F.pad(xt, padding), wt, bt, stride, 0, dilation, groups)
    yt.backward(torch.from_numpy(grad_y))
    tol = TOLERANCE[np.dtype(dtype)]
    pairs = ((y, yt, "output"), (grad_x, xt.grad, "dx"), (grad_w, wt.grad, "dW"), (grad_b, bt.grad, "db"))
    for ours, theirs, what in pairs:
        assert ours.dtype == dtype, what
        assert_close(ours, theirs.detach().numpy(), tol, what)


def test_fast_backward_gives_its_buffer_back_once():
    x, w = np.ones((2, 1, 5, 5)), np.ones((1, 1, 3, 3))
    _, ctx = fast.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
    ctx.backward(np.ones((2, 1, 5, 5)))
    with pytest.raises(RuntimeError, match="one backward per forward"):
        ctx.backward(np.ones((2, 1, 5, 5)))
    assert fast.conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1, need_backward=False)[1] is None


@pytest.mark.parametrize("call", CALLS[:12], ids=[f"call{i}" for i in range(12)])
def test_col2im_is_the_adjoint_of_im2col(call):
    """<im2col(x), D> = <x, col2im(D)> for all x and D, in both layouts (fast: on the columns not scratch)."""
    x_shape, w_shape, stride, padding, dilation, groups = call
    g = conv_layout.conv_geometry(x_shape, w_shape, stride, padding, dilation, groups)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    dcols = rng.standard_normal((g.c * g.kh * g.kw, g.n, g.grid_h, g.grid_w))
    dcols[:, :, g.out_h:] = 0  # scratch rows and columns carry no gradient
    dcols[..., g.out_w:] = 0
    cols = conv_layout.im2col(x, g).reshape(dcols.shape)
    lhs, rhs = np.sum(cols * dcols), np.sum(x * conv_layout.col2im(dcols.reshape(-1, g.m), g))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))

    left, right, top, bottom = padding
    x_pad = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    cols = reference_conv.im2col(x_pad, w_shape[2:], stride, dilation)
    dcols = rng.standard_normal(cols.shape)
    lhs, rhs = np.sum(cols * dcols), np.sum(x_pad * reference_conv.col2im(dcols, x_pad.shape, stride, dilation))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_im2col_columns_are_the_windows():
    x = np.arange(2 * 1 * 3 * 4, dtype=np.float64).reshape(2, 1, 3, 4)
    g = conv_layout.conv_geometry(x.shape, (1, 1, 2, 2), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    cols = conv_layout.im2col(x, g).reshape(1, 2, 2, 2, g.grid_h, g.grid_w)[..., :g.out_h, :g.out_w]
    np.testing.assert_array_equal(cols[0, :, :, 1, 0, 2], x[1, 0, 0:2, 2:4])  # window (n=1, i=0, j=2)
    cols = reference_conv.im2col(x, (2, 2), (1, 1), (1, 1))  # [n, c, p, q, i, j]
    np.testing.assert_array_equal(cols[1, 0, :, :, 0, 2], x[1, 0, 0:2, 2:4])


@pytest.mark.parametrize("args_", [
    ((10, 3), dict()), ((10, 3), dict(stride=2, padding=1)), ((9, 4), dict(stride=3, padding=2, dilation=2)),
    ((7, 7), dict()),
])
def test_geometry_uses_the_output_size_formula(args_):
    (size, kernel), kw = args_
    stride, pad, dilation = kw.get("stride", 1), kw.get("padding", 0), kw.get("dilation", 1)
    g = conv_layout.conv_geometry((1, 1, size, size + 1), (1, 1, kernel, kernel), (stride, stride), (pad,) * 4,
                                  (dilation, dilation), 1)
    assert g.out_h == st.conv_output_size(size, kernel, **kw)
    assert g.out_w == st.conv_output_size(size + 1, kernel, **kw)


def test_same_padding_puts_the_odd_pixel_right_and_bottom():
    assert args.conv_padding("same", (4, 3), (1, 2)) == (2, 2, 1, 2)
    assert args.conv_padding("valid", 3, 1) == (0, 0, 0, 0)
    assert args.conv_padding((1, 2), 3, 1) == (2, 2, 1, 1)
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        args.conv_padding("full", 3, 1)


@pytest.mark.parametrize("use_reference", [False, True])
def test_functional_conv2d_matches_torch_and_keeps_float32(use_reference):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    st.functional.use_reference(use_reference)
    try:
        y = st.functional.conv2d(x32, w32, b32, stride=(2, 1), padding="valid", dilation=(1, 2), groups=2)
        grads = st.functional.conv2d_backward(np.cos(y), x32, w32, stride=(2, 1), dilation=(1, 2), groups=2)
    finally:
        st.functional.use_reference(False)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(xt, wt, bt, stride=(2, 1), dilation=(1, 2), groups=2)
    yt.backward(torch.cos(yt).detach())
    assert y.dtype == np.float32
    assert_close(y, yt.detach().numpy(), 1e-5, "conv2d")
    for ours, theirs in zip(grads, (xt.grad, wt.grad, bt.grad), strict=True):
        assert_close(ours, theirs.numpy(), 1e-4, "conv2d_backward")


def test_functional_conv2d_errors_name_the_function_and_the_argument():
    x, w = np.zeros((1, 4, 5, 5)), np.zeros((2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: input has 4 channels, weight \(2, 2, 3, 3\) with groups=1"):
        st.functional.conv2d(x, w)
    with pytest.raises(TypeError, match="conv2d: stride must be an int or a pair of ints"):
        st.functional.conv2d(x, w, stride=1.5, groups=2)
    with pytest.raises(ValueError, match="conv2d: groups must be a positive integer, got 0"):
        st.functional.conv2d(x, w, groups=0)


# ------------------------------------------------------------------------------------------ padding
PAD_MODES = {"zeros": "constant", "constant": "constant", "reflect": "reflect", "replicate": "replicate",
             "circular": "circular"}


def _pad_cases(count, seed):
    """Random (shape, padding, mode) that PyTorch pads correctly, negative (cropping) amounts among them."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        mode = list(PAD_MODES)[len(cases) % len(PAD_MODES)]
        h, w = (int(s) for s in rng.integers(1, 8, 2))
        padding = tuple(int(p) for p in rng.integers(-2, 7, 4))
        left, right, top, bottom = padding
        if w + min(left, 0) + min(right, 0) < 1 or h + min(top, 0) + min(bottom, 0) < 1:
            continue
        if mode == "reflect" and max(padding) >= min(h, w):
            continue
        if mode == "circular" and (max(left, right) > w + min(left, 0) + min(right, 0)
                                   or max(top, bottom) > h + min(top, 0) + min(bottom, 0)):
            continue
        cases.append(((2, 3, h, w), padding, mode))
    return cases


@pytest.mark.parametrize("which", KERNELS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape, padding, mode", _pad_cases(60, seed=5))
def test_pad2d_and_its_gradient_match_torch(shape, padding, mode, dtype, which):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    value = 0.75 if mode == "constant" else 0.0
    y, ctx = KERNELS[which].pad2d_forward(x, padding, mode, value)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.pad(xt, padding, mode=PAD_MODES[mode], value=value) if mode in ("zeros", "constant") else \
        F.pad(xt, padding, mode=PAD_MODES[mode])
    grad_y = rng.standard_normal(y.shape).astype(dtype)
    yt.backward(torch.from_numpy(grad_y))
    grad_x = ctx.backward(grad_y)
    assert y.dtype == grad_x.dtype == dtype
    assert_close(y, yt.detach().numpy(), TOLERANCE[np.dtype(dtype)], "pad2d")
    assert_close(grad_x, xt.grad.numpy(), TOLERANCE[np.dtype(dtype)], "pad2d_backward")


@pytest.mark.parametrize("padding, mode, match", [
    ((2, 0, 0, 0), "reflect", "reflect padding must be smaller than the input width 2"),
    ((0, 0, 0, 4), "circular", "circular padding must be at most the input height 3"),
    ((1, 1, 1, 1), "mirror", "mode must be one of"),
    ((0, 0, -2, -1), "constant", "crops away all of an input of height 3"),
    ((1, 1), "constant", "pad must be an int or 4 ints"),
])
def test_pad_errors(padding, mode, match):
    with pytest.raises(ValueError, match=match):
        st.functional.pad(np.zeros((1, 1, 3, 2)), padding, mode)
