"""DataLoader throughput on Fashion-MNIST, and what augmentation costs a training epoch.

    python benchmarks/bench_loader.py [--root FOLDER] [--step-ms 20] [--batches N]

Part 1: images/s for one epoch of the 60,000 training images, batch 128, shuffled, with no
augmentation and with augmentation, prefetch off (prefetch=0) and on (prefetch=2).
Part 2: the issue's check, "a training epoch with augmentation must not be more than 10% slower
than without": an epoch whose consumer spends about one training step per batch, timed without
and with augmentation. Consumers: ``sleep`` (waits --step-ms, like a step that releases the GIL),
``numpy`` (that long of BLAS matmuls, competing for the CPU), and ``model`` (a real strided CNN
training step, when strided.nn has Conv2d and MaxPool2d). On a machine with few cores, compare with
``OPENBLAS_NUM_THREADS=1`` (or cores - 1): OpenBLAS on every core fights the loader thread.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strided as st  # noqa: E402
from strided.data import DataLoader, FashionMNIST  # noqa: E402
from strided.data import transforms as T  # noqa: E402

BATCH = 128
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "fashion-mnist"
AUGMENTATIONS = {
    "none": None,
    "crop+flip": T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip()]),
    "crop+flip+rotate(10)": T.Compose([T.RandomCrop(28, padding=2), T.RandomHorizontalFlip(), T.RandomRotation(10)]),
    "affine+erasing": T.Compose([T.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), shear=5),
                                 T.RandomHorizontalFlip(), T.RandomErasing()]),
}


def epoch_seconds(loader, consume, batches=None) -> float:
    start = time.perf_counter()
    for k, (x, y) in enumerate(loader):
        consume(x, y)
        if batches is not None and k + 1 >= batches:
            break
    return time.perf_counter() - start


def throughput(dataset, repeats: int) -> None:
    print(f"\n## Loader throughput: {len(dataset)} images, batch {BATCH}, shuffled (images/s, best of {repeats})\n")
    print("| augmentation | prefetch=0 | prefetch=2 |\n|---|---:|---:|")
    for name, transform in AUGMENTATIONS.items():
        row = []
        for prefetch in (0, 2):
            loader = DataLoader(dataset, BATCH, shuffle=True, transform=transform, prefetch=prefetch, seed=0)
            best = min(epoch_seconds(loader, lambda x, y: None) for _ in range(repeats))
            row.append(f"{len(dataset) / best:,.0f}")
        print(f"| {name} | {' | '.join(row)} |")


def numpy_work(step_s: float):
    """A consumer doing BLAS matmuls for about ``step_s`` seconds on an idle machine (calibrated on the fastest
    of many runs, so that other load on the machine does not shrink the work)."""
    a = np.random.default_rng(0).standard_normal((192, 192)).astype(np.float32)
    fastest = min(_timed(lambda: a @ a) for _ in range(200))
    per_step = max(1, round(step_s / fastest))

    def consume(x, y):
        for _ in range(per_step):
            a @ a

    return consume


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def model_step():
    """A real training step of a small CNN, or None while strided.nn lacks the layers."""
    nn = st.nn
    if not all(hasattr(nn, name) for name in ("Conv2d", "MaxPool2d")):
        return None
    st.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    criterion = nn.CrossEntropyLoss()
    optimizer = st.optim.SGD(model.parameters(), lr=0.01)

    def consume(x, y):
        optimizer.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())
        optimizer.step()

    return consume


def overhead(dataset, step_ms: float, batches, repeats: int) -> None:
    step_s = step_ms / 1000
    consumers = {f"sleep {step_ms:g} ms": lambda x, y: time.sleep(step_s), f"numpy {step_ms:g} ms": numpy_work(step_s)}
    model = model_step()
    if model is not None:
        consumers["model (small CNN step)"] = model
    augment = AUGMENTATIONS["crop+flip"]
    count = len(dataset) // BATCH + 1 if batches is None else batches
    print(f"\n## Epoch time with a consumer ({count} batches of {BATCH}; median of {repeats})\n")
    print("| consumer | no augmentation, prefetch=2 | crop+flip, prefetch=2 | overhead | "
          "crop+flip, prefetch=0 | overhead |\n|---|---:|---:|---:|---:|---:|")
    configs = (("base", None, 2), ("aug", augment, 2), ("aug0", augment, 0))
    for name, consume in consumers.items():
        times = {label: [] for label, _, _ in configs}
        for _ in range(repeats):  # interleaved, so that drifting load on the machine hits every config alike
            for label, transform, prefetch in configs:
                loader = DataLoader(dataset, BATCH, shuffle=True, transform=transform, prefetch=prefetch, seed=0)
                times[label].append(epoch_seconds(loader, consume, batches))
        med = {label: statistics.median(values) for label, values in times.items()}
        base = med["base"]
        print(f"| {name} | {base:.2f} s | {med['aug']:.2f} s | {100 * (med['aug'] / base - 1):+.1f}% | "
              f"{med['aug0']:.2f} s | {100 * (med['aug0'] / base - 1):+.1f}% |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(SHARED) if SHARED.is_dir() else None,
                        help="folder holding Fashion-MNIST's IDX files (default: ../shared/data/fashion-mnist, "
                             "else $STRIDED_HOME or Debian's /usr/share/datasets/fashion-mnist)")
    parser.add_argument("--step-ms", type=float, default=20.0, help="simulated training step (ms per batch)")
    parser.add_argument("--batches", type=int, default=None, help="batches per timed epoch (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    dataset = FashionMNIST(args.root, train=True)
    print(f"# strided DataLoader benchmark\n\n{dataset!r}; NumPy {np.__version__}")
    throughput(dataset, args.repeats)
    overhead(dataset, args.step_ms, args.batches, args.repeats)


if __name__ == "__main__":
    main()
