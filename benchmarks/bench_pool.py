"""Pooling speed, strided against PyTorch: forward + backward, float32, PyTorch on 2 threads.

    python benchmarks/bench_pool.py [--repeats 50] [--all]

Both libraries run the same layer on the same input; after a warm-up their steps alternate
(strided, PyTorch, strided, ...) so that both see the same machine, and the medians are compared
as a ratio (strided time / PyTorch time; below 1 means strided is faster). The default cases are
the MaxPool2d(2) of the issue's networks; ``--all`` adds the other pooling layers.
"""

import argparse

import numpy as np
import torch

from strided import nn
from strided.benchmark.runner import ratio_row

# (layer class, its arguments, input shape): the same class name exists in strided.nn and torch.nn
MAIN_CASES = [
    ("MaxPool2d", (2,), {}, (32, 32, 28, 28)),
    ("MaxPool2d", (2,), {}, (128, 64, 14, 14)),
]
EXTRA_CASES = [
    ("MaxPool2d", (3, 2, 1), {}, (32, 64, 32, 32)),
    ("MaxPool2d", (3, 1, 1), {}, (32, 64, 16, 16)),
    ("AvgPool2d", (2,), {}, (128, 64, 14, 14)),
    ("AvgPool2d", (3, 2, 1), {}, (32, 64, 32, 32)),
    ("AdaptiveAvgPool2d", (1,), {}, (32, 64, 8, 8)),
    ("AdaptiveAvgPool2d", (5,), {}, (32, 64, 14, 14)),
    ("AdaptiveMaxPool2d", (5,), {}, (32, 64, 14, 14)),
    ("FractionalMaxPool2d", (2,), {"output_size": 10}, (32, 64, 14, 14)),
]


def _describe(name, args, kwargs) -> str:
    return f"{name}({', '.join([*map(str, args), *(f'{k}={v}' for k, v in kwargs.items())])})"


def _step_pair(name: str, args, kwargs, shape):
    """(strided step, PyTorch step), each one forward and one backward of the layer on ``shape``."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    grad = np.random.default_rng(1).standard_normal(ours(x).shape).astype(np.float32)
    x_t, grad_t = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(grad)

    def step_ours():
        ours(x)
        ours.backward(grad)

    def step_theirs():
        x_t.grad = None
        theirs(x_t).backward(grad_t)

    return step_ours, step_theirs


def compare(name: str, args, kwargs, shape, repeats: int = 50) -> dict:
    """strided and PyTorch in blocks of steps (strided.benchmark.runner.ratio_row): medians in ms, their ratio."""
    return ratio_row(_step_pair(name, args, kwargs, shape), repeats, layer=_describe(name, args, kwargs),
                     shape="x".join(map(str, shape)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50, help="timed steps per library and case")
    parser.add_argument("--all", action="store_true", help="also time the other pooling layers")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    print(f"{'layer':40} {'input':>14} {'strided ms':>11} {'torch ms':>9} {'ratio':>6}")
    for name, layer_args, kwargs, shape in MAIN_CASES + (EXTRA_CASES if args.all else []):
        row = compare(name, layer_args, kwargs, shape, args.repeats)
        print(f"{row['layer']:40} {row['shape']:>14} {row['strided_ms']:11.3f} {row['torch_ms']:9.3f} "
              f"{row['ratio']:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
