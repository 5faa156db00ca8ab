"""The convolution and padding kernels on their own: im2col/col2im, conv2d and its gradients, pad2d and
its gradient, against torch.nn.functional, plus the work-buffer pool they share."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import strided as st
from strided.functional import conv as conv_ops
from strided.functional.pad import pad2d, pad2d_backward
from tests.helpers import TOLERANCE, assert_close

RNG_SEED = 3


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
        g = conv_ops.conv_geometry(x_shape, (c_out, c_in // groups, *kernel), stride, padding, dilation, groups)
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


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("call", CALLS, ids=[f"call{i}" for i in range(len(CALLS))])
def test_conv2d_forward_and_gradients_match_torch(call, dtype):
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(RNG_SEED)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in (x_shape, w_shape, w_shape[:1]))
    g = conv_ops.conv_geometry(x_shape, w_shape, stride, padding, dilation, groups)
    y, grid = conv_ops.conv2d_forward(x, w, b, g)
    grad_y = rng.standard_normal(y.shape).astype(dtype)
    grad_x, grad_w, grad_b = conv_ops.conv2d_backward(grad_y, grid, w, g)
    conv_ops.release_grid(grid, g)

    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.conv2d(F.pad(xt, padding), wt, bt, stride, 0, dilation, groups)
    yt.backward(torch.from_numpy(grad_y))
    tol = TOLERANCE[np.dtype(dtype)]
    pairs = ((y, yt, "output"), (grad_x, xt.grad, "dx"), (grad_w, wt.grad, "dW"), (grad_b, bt.grad, "db"))
    for ours, theirs, what in pairs:
        assert ours.dtype == dtype, what
        assert_close(ours, theirs.detach().numpy(), tol, what)


@pytest.mark.parametrize("images_per_chunk", [1, 2])
@pytest.mark.parametrize("call", [c for c in CALLS if c[0][0] == 3][:6])
def test_chunks_of_images_give_the_same_result(call, images_per_chunk, monkeypatch):
    """One image per chunk, and chunks of several with a shorter last one, equal the single-chunk result."""
    x_shape, w_shape, stride, padding, dilation, groups = call
    rng = np.random.default_rng(RNG_SEED)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, w_shape[:1]))
    g = conv_ops.conv_geometry(x_shape, w_shape, stride, padding, dilation, groups)

    def run():
        y, grid = conv_ops.conv2d_forward(x, w, b, g)
        grads = conv_ops.conv2d_backward(np.cos(y), grid, w, g)
        conv_ops.release_grid(grid, g)
        return (y,) + grads

    whole = run()
    per_image = g.c * g.kh * g.kw * g.grid_h * g.grid_w * x.itemsize
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", images_per_chunk * per_image)
    assert conv_ops.image_chunks(g, x.dtype)[0] == images_per_chunk
    for ours, reference in zip(run(), whole, strict=True):
        assert_close(ours, reference, 1e-12, "chunked")


@pytest.mark.parametrize("call", CALLS[:12], ids=[f"call{i}" for i in range(12)])
def test_col2im_is_the_adjoint_of_im2col(call):
    """<im2col(x), D> = <x, col2im(D)> for all x and D (on the columns that are not scratch)."""
    x_shape, w_shape, stride, padding, dilation, groups = call
    g = conv_ops.conv_geometry(x_shape, w_shape, stride, padding, dilation, groups)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    dcols = rng.standard_normal((g.c * g.kh * g.kw, g.n, g.grid_h, g.grid_w))
    dcols[:, :, g.out_h:] = 0  # scratch rows and columns carry no gradient
    dcols[..., g.out_w:] = 0
    cols = conv_ops.im2col(x, g).reshape(dcols.shape)
    lhs = np.sum(cols * dcols)
    rhs = np.sum(x * conv_ops.col2im(dcols.reshape(-1, g.m), g))
    assert abs(lhs - rhs) <= 1e-10 * max(1.0, abs(lhs))


def test_im2col_columns_are_the_windows():
    x = np.arange(2 * 1 * 3 * 4, dtype=np.float64).reshape(2, 1, 3, 4)
    g = conv_ops.conv_geometry(x.shape, (1, 1, 2, 2), stride=1, padding=0)
    cols = conv_ops.im2col(x, g).reshape(1, 2, 2, 2, g.grid_h, g.grid_w)[..., :g.out_h, :g.out_w]
    np.testing.assert_array_equal(cols[0, :, :, 1, 0, 2], x[1, 0, 0:2, 2:4])  # window (n=1, i=0, j=2)


@pytest.mark.parametrize("args", [
    ((10, 3), dict()), ((10, 3), dict(stride=2, padding=1)), ((9, 4), dict(stride=3, padding=2, dilation=2)),
    ((7, 7), dict()),
])
def test_geometry_uses_the_output_size_formula(args):
    (size, kernel), kw = args
    g = conv_ops.conv_geometry((1, 1, size, size + 1), (1, 1, kernel, kernel), **kw)
    assert g.out_h == st.conv_output_size(size, kernel, **kw)
    assert g.out_w == st.conv_output_size(size + 1, kernel, **kw)


def test_same_padding_puts_the_odd_pixel_right_and_bottom():
    assert conv_ops.conv_padding("same", (4, 3), (1, 2)) == (2, 2, 1, 2)
    assert conv_ops.conv_padding("valid", 3, 1) == (0, 0, 0, 0)
    assert conv_ops.conv_padding((1, 2), 3, 1) == (2, 2, 1, 1)
    with pytest.raises(ValueError, match="'same' or 'valid'"):
        conv_ops.conv_padding("full", 3, 1)


def test_functional_conv2d_matches_torch_and_keeps_float32():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    x32, w32, b32 = x.astype(np.float32), w.astype(np.float32), b.astype(np.float32)
    y = conv_ops.conv2d(x32, w32, b32, stride=(2, 1), padding="valid", dilation=(1, 2), groups=2)
    reference = F.conv2d(*map(torch.from_numpy, (x, w, b)), stride=(2, 1), dilation=(1, 2), groups=2).numpy()
    assert y.dtype == np.float32
    assert_close(y, reference, 1e-5, "conv2d")


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


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("shape, padding, mode", _pad_cases(60, seed=5))
def test_pad2d_and_its_gradient_match_torch(shape, padding, mode, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    value = 0.75 if mode == "constant" else 0.0
    y = pad2d(x, padding, mode, value)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.pad(xt, padding, mode=PAD_MODES[mode], value=value) if mode in ("zeros", "constant") else \
        F.pad(xt, padding, mode=PAD_MODES[mode])
    grad_y = rng.standard_normal(y.shape).astype(dtype)
    yt.backward(torch.from_numpy(grad_y))
    grad_x = pad2d_backward(grad_y, padding, mode)
    assert y.dtype == grad_x.dtype == dtype
    assert_close(y, yt.detach().numpy(), TOLERANCE[np.dtype(dtype)], "pad2d")
    assert_close(grad_x, xt.grad.numpy(), TOLERANCE[np.dtype(dtype)], "pad2d_backward")


@pytest.mark.parametrize("padding, mode, match", [
    ((2, 0, 0, 0), "reflect", "reflect padding must be smaller than the input width 2"),
    ((0, 0, 0, 4), "circular", "circular padding must be at most the input height 3"),
    ((1, 1, 1, 1), "mirror", "padding mode must be one of"),
    ((0, 0, -2, -1), "zeros", "crops away all of an input of height 3"),
    ((1, 1), "zeros", "padding must be an int or 4 ints"),
])
def test_pad2d_errors(padding, mode, match):
    with pytest.raises(ValueError, match=match):
        pad2d(np.zeros((1, 1, 3, 2)), padding, mode)
