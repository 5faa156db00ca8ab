"""Channels-last (NHWC) im2col convolution against strided's fast NCHW path: one layer's forward + backward.

    python benchmarks/bench_channels_last.py [--rounds 7] [--repeats 3] [--threads default 1]

Issue 18 lists "channels-last for the small-channel convolutions" as a lever. Three ways to run one
convolution's training step (forward, then dL/dx, dL/dW, dL/db), float32, timed side by side:

(a) fast:       strided.functional.kernels().conv2d_forward and ctx.backward (NCHW grid im2col, fast/conv.py),
                what Conv2d ran before fast/conv_nhwc.py (whose dispatch is turned off here);
(b) nhwc:       the NHWC im2col below on NCHW arrays: x read through a transposed view while it is padded,
                y and dL/dx copied back to NCHW, dL/dy copied to NHWC (what a channels-last path inside an
                NCHW network pays);
(c) nhwc-only:  the same on NHWC arrays, no transposes: the bound a network kept channels-last could reach;
(d) dispatch:   fast.conv2d_forward as it is now, choosing by shape (fast/conv_nhwc.py's rule).

NHWC im2col: cols[(n, i, j), (p, q, c)] = x_pad[n, i*s + p, j*s + q, c], one copy of a strided view (its
rows are runs of K_w*C contiguous floats of x_pad); y = cols @ W^T with W as (C_out, K_h*K_w*C) lands as
(N, H_out, W_out, C_out). Backward: dW = g^T @ cols, db = sum of g, dcols = g @ W (one product per tap),
then dcols added back onto a zero-padded gradient, one addition per tap. Like (a), the forward keeps only the
padded input and the backward gathers cols again; the large buffers are reused from call to call, as (a)'s
pool does.

Each variant is first checked equal to strided.functional.reference's conv2d in float64 (forward, dx, dW,
db; 1e-12 relative to the largest entry). Timing: every round runs (a) to (d) in turn (the order rotating),
each ``--repeats`` steps after one warm-up, and keeps each variant's median step; the table gives the median
over ``--rounds`` rounds [range], wall ms and CPU ms (time.process_time, all threads), with BLAS held to each
``--threads`` setting by threadpoolctl ("default": what OpenBLAS chose, not held).
"""

import argparse
import os
import platform
import subprocess
from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from strided.benchmark.worker import time_steps
from strided.functional import reference
from strided.functional.dispatch import kernels

# (label, N, C, H, W, C_out, stride, kernel, padding): resnet-cifar batch 32, fmnist-cnn batch 128, seed-net
# batch 32, a 1x1 stride-2 shortcut; then resnet-cifar's last stage (64->64 at 8x8, its 1x1 32->64 /2 shortcut).
LAYERS = [
    ("resnet-cifar 16->32 /2", 32, 16, 32, 32, 32, 2, 3, 1),
    ("resnet-cifar 32->64 /2", 32, 32, 16, 16, 64, 2, 3, 1),
    ("resnet-cifar 16->16", 32, 16, 32, 32, 16, 1, 3, 1),
    ("resnet-cifar 32->32", 32, 32, 16, 16, 32, 1, 3, 1),
    ("fmnist-cnn 1->32", 128, 1, 28, 28, 32, 1, 3, 1),
    ("fmnist-cnn 32->64", 128, 32, 14, 14, 64, 1, 3, 1),
    ("seed-net 1->32", 32, 1, 28, 28, 32, 1, 3, 1),
    ("seed-net 32->64", 32, 32, 14, 14, 64, 1, 3, 1),
    ("resnet-cifar shortcut 1x1 16->32 /2", 32, 16, 32, 32, 32, 2, 1, 0),
    ("resnet-cifar 64->64", 32, 64, 8, 8, 64, 1, 3, 1),
    ("resnet-cifar shortcut 1x1 32->64 /2", 32, 32, 16, 16, 64, 2, 1, 0),
]

_buffers = {}  # (role, shape, dtype) -> a reused work buffer (fresh memory page-faults: see fast/workspace.py)


def _buffer(role, shape, dtype, zeros=False):
    key = (role, tuple(shape), np.dtype(dtype))
    if key not in _buffers:
        _buffers[key] = (np.zeros if zeros else np.empty)(shape, dtype)
    return _buffers[key]


# ------------------------------------------------------------------------------------------ NHWC im2col conv
def _out_size(size, k, stride, pad):
    return (size + 2 * pad - k) // stride + 1


def _windows(xp, k, stride, out_h, out_w):
    """The (N, H_out, W_out, K, K, C) view: [n, i, j, p, q, c] = xp[n, i*s + p, j*s + q, c]."""
    sn, sh, sw, sc = xp.strides
    shape = (xp.shape[0], out_h, out_w, k, k, xp.shape[3])
    return np.lib.stride_tricks.as_strided(xp, shape, (sn, stride * sh, stride * sw, sh, sw, sc), writeable=False)


def nhwc_forward(x, weight, bias, stride, pad):
    """(y, saved): y[n, i, j, o] = sum over (p, q, c) of x_pad[n, i*s + p, j*s + q, c] * W[o, c, p, q] + b[o].

    ``x`` is any (N, H, W, C) view (a transposed NCHW array is read while it is padded); y is (N, H_out, W_out,
    C_out), contiguous. ``saved`` holds the padded input for the backward.
    """
    n, h, w, c = x.shape
    c_out, _, k, _ = weight.shape
    out_h, out_w = _out_size(h, k, stride, pad), _out_size(w, k, stride, pad)
    xp = _buffer("xp", (n, h + 2 * pad, w + 2 * pad, c), x.dtype, zeros=True)  # border zero, never written
    xp[:, pad:pad + h, pad:pad + w] = x
    cols = _buffer("cols", (n, out_h, out_w, k, k, c), x.dtype)
    np.copyto(cols, _windows(xp, k, stride, out_h, out_w))
    w_rows = weight.transpose(0, 2, 3, 1).reshape(c_out, k * k * c)  # W as (C_out, (p, q, c))
    y = np.empty((n, out_h, out_w, c_out), x.dtype)
    np.matmul(cols.reshape(-1, k * k * c), w_rows.T, out=y.reshape(-1, c_out))
    if bias is not None:
        y += bias
    return y, (xp, weight, stride, pad, (h, w))


def nhwc_backward(saved, grad):
    """(dL/dx NHWC padded view, dL/dW, dL/db) from g = dL/dy, (N, H_out, W_out, C_out) contiguous."""
    xp, weight, stride, pad, (h, w) = saved
    n, out_h, out_w, c_out = grad.shape
    k, c = weight.shape[2], xp.shape[3]
    g = grad.reshape(-1, c_out)
    grad_bias = np.ones(g.shape[0], g.dtype) @ g  # the sum of g over (n, i, j) as one product
    cols = _buffer("cols", (n, out_h, out_w, k, k, c), xp.dtype)
    np.copyto(cols, _windows(xp, k, stride, out_h, out_w))
    grad_w = (g.T @ cols.reshape(-1, k * k * c)).reshape(c_out, k, k, c).transpose(0, 3, 1, 2)
    # dcols tap-major, (K*K, N*H_out*W_out, C): one product per tap, g @ W[:, :, p, q]^T. Each tap's part is
    # then one contiguous (N, H_out, W_out, C) block: col2im 2.8 ms against 17.9 ms from the (M, K*K*C) layout
    # of one product g @ W, whose taps are runs of C floats (16->16 at 32x32, batch 32, 1 BLAS thread).
    dcols = _buffer("dcols", (k * k, n * out_h * out_w, c), xp.dtype)
    np.matmul(g, weight.transpose(2, 3, 0, 1).reshape(k * k, c_out, c), out=dcols)
    dcols = dcols.reshape(k, k, n, out_h, out_w, c)
    dxp = _buffer("dxp", xp.shape, xp.dtype)
    dxp.fill(0)
    span_h, span_w = stride * (out_h - 1) + 1, stride * (out_w - 1) + 1
    for p in range(k):  # one addition per tap: the windows of neighbouring taps overlap
        for q in range(k):
            window = dxp[:, p:p + span_h:stride, q:q + span_w:stride]
            np.add(window, dcols[p, q], out=window)
    return dxp[:, pad:pad + h, pad:pad + w], np.ascontiguousarray(grad_w), grad_bias


# ---------------------------------------------------------------------------------------- the three variants
def step_fast(x, weight, bias, grad, stride, pad):
    """(a): (y, dx, dW, db), NCHW, on the kernels Conv2d runs, with the channels-last dispatch (where this
    tree has fast/conv_nhwc.py) turned off: the grid path."""
    nhwc = getattr(kernels().conv, "conv_nhwc", None)
    applies = nhwc.nhwc_applies if nhwc else None
    if nhwc:
        nhwc.nhwc_applies = lambda *args: False
    try:
        y, ctx = kernels().conv2d_forward(x, weight, bias, (stride, stride), (pad,) * 4, (1, 1), 1)
        return (y, *ctx.backward(grad))
    finally:
        if nhwc:
            nhwc.nhwc_applies = applies


def step_dispatch(x, weight, bias, grad, stride, pad):
    """(d): what Conv2d runs now, fast.conv2d_forward choosing its path (fast/conv_nhwc.py's rule)."""
    y, ctx = kernels().conv2d_forward(x, weight, bias, (stride, stride), (pad,) * 4, (1, 1), 1)
    return (y, *ctx.backward(grad))


def step_nhwc(x, weight, bias, grad, stride, pad):
    """(b): NCHW in and out, through the NHWC path and the transposes it needs."""
    y, saved = nhwc_forward(x.transpose(0, 2, 3, 1), weight, bias, stride, pad)
    y = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    dx, dw, db = nhwc_backward(saved, np.ascontiguousarray(grad.transpose(0, 2, 3, 1)))
    return y, np.ascontiguousarray(dx.transpose(0, 3, 1, 2)), dw, db


def step_nhwc_only(x_nhwc, weight, bias, grad_nhwc, stride, pad):
    """(c): NHWC in and out, no transposes."""
    y, saved = nhwc_forward(x_nhwc, weight, bias, stride, pad)
    dx, dw, db = nhwc_backward(saved, grad_nhwc)
    return y, np.ascontiguousarray(dx), dw, db


def _reference_step(x, weight, bias, grad, stride, pad):
    y, ctx = reference.conv2d_forward(x, weight, bias, (stride, stride), (pad,) * 4, (1, 1), 1)
    return (y, *ctx.backward(grad))


def _relative_error(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300))


def check_equal_to_reference(layers, tolerance=1e-12):
    """Every variant against the reference in float64 (batch cut to 3, plus odd sizes); raises on a mismatch."""
    extra = [("odd", 3, 5, 7, 9, 6, 2, 3, 1), ("odd", 2, 3, 11, 6, 4, 1, 3, 1), ("odd", 2, 4, 9, 7, 5, 2, 1, 0)]
    rng = np.random.default_rng(0)
    worst = 0.0
    for _, n, c, h, w, c_out, stride, k, pad in list(layers) + extra:
        n = min(n, 3)
        x = rng.standard_normal((n, c, h, w))
        weight, bias = rng.standard_normal((c_out, c, k, k)), rng.standard_normal(c_out)
        grad = rng.standard_normal((n, c_out, _out_size(h, k, stride, pad), _out_size(w, k, stride, pad)))
        want = _reference_step(x, weight, bias, grad, stride, pad)
        nhwc = step_nhwc_only(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), weight, bias,
                              np.ascontiguousarray(grad.transpose(0, 2, 3, 1)), stride, pad)
        nhwc = (nhwc[0].transpose(0, 3, 1, 2), nhwc[1].transpose(0, 3, 1, 2), nhwc[2], nhwc[3])
        for got in (step_fast(x, weight, bias, grad, stride, pad), step_nhwc(x, weight, bias, grad, stride, pad), nhwc,
                    step_dispatch(x, weight, bias, grad, stride, pad)):
            for name, a, b in zip(("y", "dx", "dW", "db"), got, want, strict=True):
                error = _relative_error(a, b)
                worst = max(worst, error)
                if a.shape != b.shape or error > tolerance:
                    raise AssertionError(f"{name} of {(n, c, h, w, c_out, stride, k, pad)}: {error:.2e}")
    _buffers.clear()
    return worst


# ------------------------------------------------------------------------------------------------- timing
def _median_step(step, repeats):
    """(median wall ms, median CPU ms) of ``repeats`` calls: `strided bench`'s own timer."""
    timed = time_steps(step, 0, repeats)
    return timed["ms"], timed["cpu_ms"]


def time_layer(layer, rounds, repeats):
    """{variant: [(wall ms, cpu ms) per round]} for one layer, float32, the variants alternating."""
    _, n, c, h, w, c_out, stride, k, pad = layer
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((c_out, c, k, k)).astype(np.float32)
    bias = rng.standard_normal(c_out).astype(np.float32)
    grad = rng.standard_normal((n, c_out, _out_size(h, k, stride, pad), _out_size(w, k, stride, pad)))
    grad = grad.astype(np.float32)
    x_nhwc, grad_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)), np.ascontiguousarray(grad.transpose(0, 2, 3, 1))
    steps = {
        "fast": lambda: step_fast(x, weight, bias, grad, stride, pad),
        "nhwc": lambda: step_nhwc(x, weight, bias, grad, stride, pad),
        "nhwc-only": lambda: step_nhwc_only(x_nhwc, weight, bias, grad_nhwc, stride, pad),
        "dispatch": lambda: step_dispatch(x, weight, bias, grad, stride, pad),
    }
    for step in steps.values():
        step()  # warm-up: the pools fill, the pages fault once
    times = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(_median_step(steps[name], repeats))
    _buffers.clear()
    return times


def _summary(values):
    return f"{np.median(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def _row(label, times):
    """One table row: wall ms of (a), (b), (c), the per-round ratios of (b), (c), (d) to (a), median CPU ms."""
    wall = {name: [t[0] for t in ts] for name, ts in times.items()}
    cpu = {name: float(np.median([t[1] for t in ts])) for name, ts in times.items()}
    ratio = {name: [b / a for a, b in zip(wall["fast"], wall[name], strict=True)] for name in wall}
    return (f"| {label} | {_summary(wall['fast'])} | {_summary(wall['nhwc'])} | {_summary(wall['nhwc-only'])} | "
            f"{_summary(ratio['nhwc'])} | {_summary(ratio['nhwc-only'])} | {_summary(ratio['dispatch'])} | "
            f"{cpu['fast']:.1f} / {cpu['nhwc']:.1f} / {cpu['nhwc-only']:.1f} |")


def _uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "uptime unavailable"


def machine_header():
    flags = ""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    wanted = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_bf16", "amx_tile")
                    flags = " ".join(flag for flag in line.split(":")[1].split() if flag in wanted)
                    break
    blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')} "
                     f"{i.get('num_threads')} threads" for i in threadpool_info())
    return (f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, flags: {flags}\n"
            f"# NumPy {np.__version__}, BLAS: {blas}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", nargs="+", default=["default", "1"], help="BLAS threads: 'default' or N")
    parser.add_argument("--layers", nargs="*", type=int, help="indices into LAYERS (default: all)")
    args = parser.parse_args()
    layers = [LAYERS[i] for i in args.layers] if args.layers else LAYERS
    print(f"checked equal to the reference (float64): worst relative error {check_equal_to_reference(layers):.1e}")
    print(machine_header())
    for threads in args.threads:
        limit = nullcontext() if threads == "default" else threadpool_limits(int(threads), user_api="blas")
        with limit:
            print(f"\n## BLAS threads: {threads}; {args.rounds} rounds x {args.repeats} steps; start: {_uptime()}")
            print("| layer | (a) fast ms | (b) nhwc ms | (c) nhwc-only ms | b/a | c/a | d/a | CPU ms a / b / c |")
            print("| --- | --- | --- | --- | --- | --- | --- | --- |")
            for layer in layers:
                print(_row(layer[0], time_layer(layer, args.rounds, args.repeats)), flush=True)
            print(f"end: {_uptime()}")


if __name__ == "__main__":
    main()
