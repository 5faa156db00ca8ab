"""Does a network trained at one input size work at others? Fashion-MNIST, 28x28 only vs multi-scale.

    python benchmarks/multiscale_fmnist.py [--train-size 60000] [--test-size 10000] [--epochs 4] [--seed 0]
                                           [--root FOLDER]
                                           [--schemes single,multi] [--out results.json]

One network, with adaptive average pooling before its classifier so that it accepts any size: the
convolutions of benchmarks/accuracy_fmnist.py (conv 3x3 16 + BN + ReLU + max pool 2, conv 3x3 32 +
BN + ReLU + max pool 2, conv 3x3 64 + BN + ReLU), then AdaptiveAvgPool2d(7) (the identity at 28x28),
flatten, linear 3136 -> 128, ReLU, dropout 0.2, linear 128 -> 10. Two ways to train it, the same
recipe otherwise (AdamW lr 3e-3, weight decay 5e-4, one-cycle schedule per batch, label smoothing
0.1, batch 128, random horizontal flips, per-channel normalisation):

- ``single``: every batch at 28x28, the dataset's size;
- ``multi``: every batch resized to a side drawn from 20, 28, 36 (``data.MultiScaleResize``).

Each is then evaluated on the test images resized (bilinear, antialiased) to 20, 28, 36 and 44
pixels: 44 is a size neither saw. Prints one JSON line per scheme; benchmarks/RESULTS.md and
docs/input-sizes.md record them.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import strided as st  # noqa: E402
from strided.data import DataLoader, FashionMNIST, MultiScaleResize, Subset, compute_mean_std  # noqa: E402
from strided.data import transforms as T  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"
BATCH, LR, WEIGHT_DECAY, SMOOTHING, DROPOUT = 128, 3e-3, 5e-4, 0.1, 0.2
TRAIN_SIZES = {"single": None, "multi": (20, 28, 36)}
EVAL_SIDES = (20, 28, 36, 44)
POOLED_SIDE = 7  # what 28x28 becomes after the two poolings


def build_model():
    nn = st.nn
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(POOLED_SIDE), nn.Flatten(),
        nn.Linear(64 * POOLED_SIDE**2, 128), nn.ReLU(), nn.Dropout(DROPOUT), nn.Linear(128, 10))


def run(scheme, root, train_size, test_size, epochs, seed) -> dict:
    st.manual_seed(seed)
    train, test = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
    if train_size < len(train):  # the first train_size images of a fixed shuffle
        train = Subset(train, np.random.default_rng(seed).permutation(len(train))[:train_size])
    if test_size < len(test):
        test = Subset(test, np.random.default_rng(seed + 1).permutation(len(test))[:test_size])
    mean, std = compute_mean_std(train)
    normalise = [T.ToFloat(), T.Normalize(mean, std)]
    sizes = TRAIN_SIZES[scheme]
    augment = [T.RandomHorizontalFlip(), *normalise] + ([MultiScaleResize(sizes)] if sizes else [])
    loader = DataLoader(train, BATCH, shuffle=True, drop_last=True, transform=T.Compose(augment), seed=seed)
    model = build_model()
    optimizer = st.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    scheduler = st.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, epochs=epochs, steps_per_epoch=len(loader))
    trainer = st.train.Trainer(model, optimizer, st.nn.CrossEntropyLoss(label_smoothing=SMOOTHING),
                               scheduler=scheduler, scheduler_interval="step", progress=False, verbose=0)
    started = time.perf_counter()
    trainer.fit(loader, epochs=epochs)
    seconds = time.perf_counter() - started
    accuracy = {}
    for side in EVAL_SIDES:
        resize = [T.Resize((side, side))] if side != 28 else []
        test_loader = DataLoader(test, 500, transform=T.Compose([*normalise, *resize]))
        accuracy[str(side)] = round(trainer.evaluate(test_loader)["accuracy"], 4)
    return {"scheme": scheme, "train_sizes": list(sizes or (28,)), "train_images": len(train), "test_images": len(test),
            "epochs": epochs,
            "seed": seed, "train_seconds": round(seconds, 1), "test_accuracy": accuracy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=60000)
    parser.add_argument("--test-size", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--root", default=str(SHARED))
    parser.add_argument("--schemes", default="single,multi")
    parser.add_argument("--out", help="also append the JSON lines to this file")
    args = parser.parse_args()
    for scheme in args.schemes.split(","):
        result = run(scheme, args.root, args.train_size, args.test_size, args.epochs, args.seed)
        line = json.dumps(result)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
