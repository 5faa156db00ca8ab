"""im2col against Winograd F(2x2, 3x3) on the 3x3 stride-1 layers of the bench cases: ms per call.

    python benchmarks/bench_winograd.py [--repeats 7] [--threads 1] [--dtype float32]

CPU time (time.process_time: the load of other processes does not count), BLAS held to ``--threads``
threads with threadpoolctl, median of ``--repeats`` after one warm-up call. Columns: forward, forward +
backward (dx, dW, db), and dW alone (im2col's gather and product, against Winograd's transforms and products).
``--orders`` times the two orders of im2col's weight-gradient product instead.
Also prints float32 error against a float64 reference for both algorithms (relative, max-norm).
"""

import argparse
import os
import time

import numpy as np

from strided.benchmark.worker import time_steps
from strided.functional import reference
from strided.functional.fast import conv as fast_conv
from strided.functional.fast import conv_layout, winograd

# (case, batch, C, C_out, H): the 3x3 stride-1 padding-1 convolutions of strided/benchmark/cases.py.
LAYERS = [
    ("seed-net", 32, 1, 32, 28), ("seed-net", 32, 32, 64, 14),
    ("fmnist-cnn", 128, 1, 32, 28), ("fmnist-cnn", 128, 32, 64, 14),
    ("resnet-cifar", 32, 3, 16, 32), ("resnet-cifar", 32, 16, 16, 32),
    ("resnet-cifar", 32, 32, 32, 16), ("resnet-cifar", 32, 64, 64, 8),
    ("inference-b1", 1, 1, 32, 28), ("inference-b1", 1, 32, 64, 14),
    ("inference-b256", 256, 1, 32, 28), ("inference-b256", 256, 32, 64, 14),
    ("wider", 32, 64, 64, 16), ("wider", 32, 128, 128, 8), ("wider", 32, 128, 128, 16),
]
PADDING = (1, 1, 1, 1)


def _im2col(x, w, b, need_backward=True):
    saved = fast_conv.winograd_applies if hasattr(fast_conv, "winograd_applies") else None
    if saved is not None:
        fast_conv.winograd_applies = lambda *args: False
    try:
        return fast_conv.conv2d_forward(x, w, b, (1, 1), PADDING, (1, 1), 1, need_backward)
    finally:
        if saved is not None:
            fast_conv.winograd_applies = saved


def _winograd(x, w, b, need_backward=True):
    return winograd.conv2d_forward(x, w, b, PADDING, need_backward)


def _cpu_ms(call, repeats):
    call()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return 1e3 * float(np.median(times))


def _timings(forward, x, w, b, grad, repeats):
    fwd = _cpu_ms(lambda: forward(x, w, b, need_backward=False), repeats)
    both = _cpu_ms(lambda: forward(x, w, b)[1].backward(grad), repeats)
    return fwd, both


def _weight_gradients(x, w, grad, repeats):
    """(im2col, Winograd) ms of dL/dW alone: im2col's gather and g @ cols^T, against Winograd's input and
    output-gradient transforms, 16 products and G^T dU G (each with its padding copy)."""
    g = fast_conv.conv_geometry(x.shape, w.shape, (1, 1), PADDING, (1, 1), 1)
    rows = np.zeros((w.shape[0], g.m), x.dtype)  # the scratch columns of g are zero, as in fast/conv.py
    rows.reshape(w.shape[0], x.shape[0], g.grid_h, g.grid_w)[..., :g.out_h, :g.out_w] = grad.transpose(1, 0, 2, 3)

    def im2col():
        return rows @ conv_layout.im2col(x, g).T

    def wino():
        xp = winograd.pad_to_tiles(x, PADDING, "bench")
        winograd._weight_gradient(xp, grad, True)
        winograd.WORKSPACE.give("bench", xp, winograd._pad_layout(x.shape, PADDING))

    return _cpu_ms(im2col, repeats), _cpu_ms(wino, repeats)


def weight_gradient_orders(repeats, threads):
    """The lead's question: g @ cols^T or (cols @ g^T)^T, at the fmnist-cnn 32->64 layer's size; wall and CPU ms."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    grad_rows, cols = (rng.standard_normal(s).astype(np.float32) for s in ((64, 32000), (320, 32000)))
    line = []
    with threadpool_limits(threads):
        orders = (("g @ cols^T", lambda: grad_rows @ cols.T), ("(cols @ g^T)^T", lambda: (cols @ grad_rows.T).T))
        for name, call in orders:
            timed = time_steps(call, 1, repeats)  # `strided bench`'s own timer, one warm-up call
            line.append(f"{name} {timed['ms']:.1f} ms wall, {timed['cpu_ms']:.1f} ms CPU")
    print(f"dW order, BLAS threads {threads}: " + "; ".join(line))


# F(4x4, 3x3) (Lavin and Gray 2015, interpolation points 0, +-1, +-2), for the accuracy experiment only.
F4_B_T = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=np.float64)
F4_G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                 [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=np.float64)
F4_A_T = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                  dtype=np.float64)


def winograd_forward_any(x, weight, b_t, g, a_t):
    """y = conv(x, weight), padding 1, by F(m x m, 3x3) with the given transforms, every step in x's dtype.
    Plain and slow (tiles gathered whole): an experiment on accuracy, not a kernel."""
    from numpy.lib.stride_tricks import sliding_window_view

    m, window = a_t.shape
    n, c, h, w = x.shape
    th, tw = -(-h // m), -(-w // m)
    xp = np.zeros((n, c, m * th + 2, m * tw + 2), x.dtype)
    xp[:, :, 1:h + 1, 1:w + 1] = x
    d = sliding_window_view(xp, (window, window), axis=(2, 3))[:, :, ::m, ::m]  # (n, c, th, tw, a, a)
    b_t, g, a_t = (t.astype(x.dtype) for t in (b_t, g, a_t))
    v = b_t @ d @ b_t.T  # (n, c, th, tw, a, a)
    u = g @ weight @ g.T  # (o, c, a, a)
    products = np.einsum("ocij,ncxyij->noxyij", u, v, optimize=True)
    y = a_t @ products @ a_t.T  # (n, o, th, tw, m, m)
    return y.transpose(0, 1, 2, 4, 3, 5).reshape(n, weight.shape[0], m * th, m * tw)[:, :, :h, :w]


def accuracy(dtype="float32"):
    """Forward error (max |y - exact| / max |exact|) of im2col, F(2x2, 3x3) and F(4x4, 3x3) on the bench layers."""
    rng = np.random.default_rng(0)
    print("float32 forward error against float64, max-norm relative: im2col, F(2x2, 3x3), F(4x4, 3x3)")
    for case, n, c, c_out, h in LAYERS:
        n = min(n, 8)
        x = rng.standard_normal((n, c, h, h))
        w = rng.standard_normal((c_out, c, 3, 3)) / np.sqrt(9 * c)
        exact = reference.conv2d_forward(x, w, None, (1, 1), PADDING, (1, 1), 1)[0]
        x32, w32 = x.astype(dtype), w.astype(dtype)
        ys = [_im2col(x32, w32, None, False)[0], _winograd(x32, w32, None, False)[0],
              winograd_forward_any(x32, w32, F4_B_T, F4_G, F4_A_T)]
        errs = [np.abs(y - exact).max() / np.abs(exact).max() for y in ys]
        print(f"{case:15s} {c:4d}->{c_out:<4d} @{h:<3d} " + " ".join(f"{e:9.2e}" for e in errs), flush=True)


def _errors(forward, x, w, b, grad):
    """Max relative error (max |ours - exact| / max |exact|) of y, dx, dW in float32 against float64."""
    y64, ctx64 = reference.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), (1, 1), PADDING, (1, 1), 1)
    exact = (y64, *ctx64.backward(grad.astype(np.float64))[:2])
    y32, ctx32 = forward(x, w, b)
    ours = (y32, *ctx32.backward(grad)[:2])
    return [float(np.abs(o - e).max() / np.abs(e).max()) for o, e in zip(ours, exact, strict=True)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--only", default="", help="run only the layers whose case name contains this")
    parser.add_argument("--orders", action="store_true", help="time only the two orders of dW = g @ cols^T")
    parser.add_argument("--accuracy", action="store_true", help="only the float32 errors, F(4x4, 3x3) included")
    args = parser.parse_args()
    if args.accuracy:
        return accuracy(args.dtype)
    if args.orders:
        for threads in (1, 2):
            weight_gradient_orders(args.repeats, threads)
        return
    from threadpoolctl import threadpool_limits

    print(f"load: {os.getloadavg()}, BLAS threads {args.threads}, {args.dtype}, median of {args.repeats}, CPU ms")
    print(f"{'case':15s} {'layer':>18s} | {'fwd im2col':>10s} {'fwd wino':>9s} | {'f+b im2col':>10s} "
          f"{'f+b wino':>9s} | {'dW im2col':>9s} {'dW wino':>8s} | {'err y/dx/dW im2col':>26s} | "
          f"{'err y/dx/dW wino':>26s}")
    rng = np.random.default_rng(0)
    with threadpool_limits(args.threads):
        for case, n, c, c_out, h in [layer for layer in LAYERS if args.only in layer[0]]:
            x = rng.standard_normal((n, c, h, h)).astype(args.dtype)
            w = (rng.standard_normal((c_out, c, 3, 3)) / np.sqrt(9 * c)).astype(args.dtype)
            b = rng.standard_normal(c_out).astype(args.dtype)
            grad = rng.standard_normal((n, c_out, h, h)).astype(args.dtype)
            im2col, wino = (_timings(f, x, w, b, grad, args.repeats) for f in (_im2col, _winograd))
            dw = _weight_gradients(x, w, grad, args.repeats)
            errs = [_errors(f, x, w, b, grad) for f in (_im2col, _winograd)]
            layer = f"{c}->{c_out} @{h} b{n}"
            print(f"{case:15s} {layer:>18s} | {im2col[0]:10.2f} {wino[0]:9.2f} | {im2col[1]:10.2f} {wino[1]:9.2f} | "
                  f"{dw[0]:9.2f} {dw[1]:8.2f} | " + " | ".join(" ".join(f"{e:8.1e}" for e in err) for err in errs),
                  flush=True)


if __name__ == "__main__":
    main()
