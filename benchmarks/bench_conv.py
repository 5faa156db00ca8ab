"""Conv2d forward + backward, strided against PyTorch (not a test).

    python benchmarks/bench_conv.py [--rounds 12] [--block 5] [--only strided|torch]

Each case runs one forward and one backward in strided and in PyTorch (2 threads, float32, the same
weights, the input gradient computed by both), alternating after a warm-up; the table shows the
medians and the ratio strided / PyTorch. "torch no dx" is PyTorch when the input needs no gradient
(what a network's first layer costs it), for reference. The load average is printed because other
processes on the machine skew every figure.
"""

import argparse
import os

import numpy as np
import torch

import strided as st
from strided.benchmark.runner import alternate_in_blocks

CASES = [  # name, C_in, C_out, H (= W), batch; all 3x3, padding 1
    ("seed-net conv1 1->32 28x28", 1, 32, 28, 32),
    ("seed-net conv2 32->64 14x14", 32, 64, 14, 32),
    ("resnet 16->16 32x32", 16, 16, 32, 32),
]


def _layers(c_in, c_out):
    st.manual_seed(0)
    ours = st.nn.Conv2d(c_in, c_out, 3, padding=1)
    theirs = torch.nn.Conv2d(c_in, c_out, 3, padding=1)
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def _step_ours(conv, x, grad):
    conv(x)
    conv.backward(grad)


def _step_torch(conv, x, grad):
    x.grad = None
    conv(x).backward(grad)


def bench_case(c_in, c_out, size, batch, rounds, block, pause, only=None):
    """Median milliseconds of (strided, torch, torch without the input gradient); NaN for a side not run.

    The sides alternate in blocks of ``block`` runs (strided.benchmark.runner.alternate_in_blocks: a
    ``pause`` in seconds and one uncounted run before each block, one warm-up round, as `strided bench`).
    """
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, c_in, size, size), dtype=np.float32)
    grad = rng.standard_normal((batch, c_out, size, size), dtype=np.float32)
    ours, theirs = _layers(c_in, c_out)
    x_t, x_t_nograd, grad_t = torch.tensor(x, requires_grad=True), torch.tensor(x), torch.tensor(grad)
    runs = [lambda: _step_ours(ours, x, grad), lambda: _step_torch(theirs, x_t, grad_t),
            lambda: theirs(x_t_nograd).backward(grad_t)]
    chosen = {None: (0, 1, 2), "strided": (0,), "torch": (1, 2)}[only]
    medians = dict(zip(chosen, alternate_in_blocks([runs[i] for i in chosen], rounds * block, block, pause),
                       strict=True))
    return [medians.get(index, float("nan")) for index in range(len(runs))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12, help="alternations (after one warm-up round)")
    parser.add_argument("--block", type=int, default=5, help="timed runs of one side in a row")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds of rest before each block")
    parser.add_argument("--only", choices=["strided", "torch"], help="time one side alone (no alternation)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'case':32s} {'strided ms':>10s} {'torch ms':>9s} {'ratio':>6s} {'torch no dx':>12s}")
    for name, c_in, c_out, size, batch in CASES:
        ours, theirs, theirs_no_dx = bench_case(c_in, c_out, size, batch, args.rounds, args.block, args.pause,
                                                args.only)
        print(f"{name:32s} {ours:10.2f} {theirs:9.2f} {ours / theirs:6.2f} {theirs_no_dx:12.2f}")


if __name__ == "__main__":
    main()
