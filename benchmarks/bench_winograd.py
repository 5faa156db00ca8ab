"""im2col against Winograd F(2x2, 3x3) on the 3x3 stride-1 layers of the bench cases: ms per call.

    python benchmarks/bench_winograd.py [--repeats 7] [--threads 1] [--dtype float32]

CPU time (time.process_time: the load of other processes does not count), BLAS held to ``--threads``
threads with threadpoolctl, median of ``--repeats`` after one warm-up call. Columns: forward, forward +
backward (dx, dW, db), and Winograd's backward split into dW (+ db) alone against im2col's whole backward.
Also prints float32 error against a float64 reference for both algorithms (relative, max-norm).
"""

import argparse
import os
import time

import numpy as np

from strided.functional import fast, reference
from strided.functional.fast import conv as fast_conv
from strided.functional.fast import winograd

# (case, batch, C, C_out, H): the 3x3 stride-1 padding-1 convolutions of strided/benchmark/cases.py.
LAYERS = [
    ("seed-net", 32, 1, 32, 28), ("seed-net", 32, 32, 64, 14),
    ("fmnist-cnn", 128, 1, 32, 28), ("fmnist-cnn", 128, 32, 64, 14),
    ("resnet-cifar", 32, 3, 16, 32), ("resnet-cifar", 32, 16, 16, 32),
    ("resnet-cifar", 32, 32, 32, 16), ("resnet-cifar", 32, 64, 64, 8),
    ("inference-b1", 1, 1, 32, 28), ("inference-b1", 1, 32, 64, 14),
    ("inference-b256", 256, 1, 32, 28), ("inference-b256", 256, 32, 64, 14),
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


def _errors(forward, x, w, b, grad):
    """Max relative error (max |ours - exact| / max |exact|) of y, dx, dW in float32 against float64."""
    y64, ctx64 = reference.conv2d_forward(*(a.astype(np.float64) for a in (x, w, b)), (1, 1), PADDING, (1, 1), 1)
    exact = (y64, *ctx64.backward(grad.astype(np.float64))[:2])
    y32, ctx32 = forward(x, w, b)
    ours = (y32, *ctx32.backward(grad)[:2])
    return [float(np.abs(o - e).max() / np.abs(e).max()) for o, e in zip(ours, exact)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    print(f"load: {os.getloadavg()}, BLAS threads {args.threads}, {args.dtype}, median of {args.repeats}, CPU ms")
    print(f"{'case':15s} {'layer':>18s} | {'fwd im2col':>10s} {'fwd wino':>9s} | {'f+b im2col':>10s} "
          f"{'f+b wino':>9s} | {'err y/dx/dW im2col':>26s} | {'err y/dx/dW wino':>26s}")
    rng = np.random.default_rng(0)
    with threadpool_limits(args.threads):
        for case, n, c, c_out, h in LAYERS:
            x = rng.standard_normal((n, c, h, h)).astype(args.dtype)
            w = (rng.standard_normal((c_out, c, 3, 3)) / np.sqrt(9 * c)).astype(args.dtype)
            b = rng.standard_normal(c_out).astype(args.dtype)
            grad = rng.standard_normal((n, c_out, h, h)).astype(args.dtype)
            im2col, wino = (_timings(f, x, w, b, grad, args.repeats) for f in (_im2col, _winograd))
            errs = [_errors(f, x, w, b, grad) for f in (_im2col, _winograd)]
            layer = f"{c}->{c_out} @{h} b{n}"
            print(f"{case:15s} {layer:>18s} | {im2col[0]:10.2f} {wino[0]:9.2f} | {im2col[1]:10.2f} {wino[1]:9.2f} | "
                  + " | ".join(" ".join(f"{e:8.1e}" for e in err) for err in errs), flush=True)


if __name__ == "__main__":
    main()
