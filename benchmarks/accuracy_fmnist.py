"""Fashion-MNIST accuracy, strided and PyTorch side by side with the same architecture and recipe.

    python benchmarks/accuracy_fmnist.py [--epochs 16] [--library strided|torch|both] [--root FOLDER]

The recipe: a small CNN (three conv-BN-ReLU blocks of 16, 32 and 64 channels, two max pools,
dropout 0.1 on the 3,136 features and 0.2 on a 128-unit hidden layer), cheap enough for 16
epochs in under 10 minutes on two cores; AdamW (lr 3e-3, weight decay 5e-4) with a one-cycle
learning rate stepped per batch, label smoothing 0.1, random horizontal flips, batch 128, on
the full 60,000 training images; test accuracy on the 10,000 test images. (Random crops and
dropout 0.3 on both layers regularised this small model too much for 16 epochs: 92.4%.)
Both libraries get the same data order and augmentation (strided's loader feeds both), so
only the engines differ. Prints one JSON line per library with the accuracy and
the training time; benchmarks/RESULTS.md records them.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import strided as st  # noqa: E402
from strided.data import DataLoader, FashionMNIST, compute_mean_std  # noqa: E402
from strided.data import transforms as T  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"
BATCH, LR, WEIGHT_DECAY, SMOOTHING = 128, 3e-3, 5e-4, 0.1
DROP_FEATURES, DROP_HIDDEN = 0.1, 0.2


def build_model(nn):
    """The network, from either library's ``nn`` (strided's layers take PyTorch's names and arguments)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.Flatten(), nn.Dropout(DROP_FEATURES), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(DROP_HIDDEN),
        nn.Linear(128, 10))


def loaders(root, seed):
    train, test = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
    mean, std = compute_mean_std(train)
    normalise = [T.ToFloat(), T.Normalize(mean, std)]
    augment = T.Compose([T.RandomHorizontalFlip(), *normalise])
    return (DataLoader(train, BATCH, shuffle=True, drop_last=True, transform=augment, seed=seed),
            DataLoader(test, 512, transform=T.Compose(normalise)))


def run_strided(root, epochs, seed, precision="32") -> dict:
    st.manual_seed(seed)
    train, test = loaders(root, seed)
    model = build_model(st.nn)
    optimizer = st.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    scheduler = st.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, epochs=epochs, steps_per_epoch=len(train))
    trainer = st.train.Trainer(model, optimizer, st.nn.CrossEntropyLoss(label_smoothing=SMOOTHING),
                               scheduler=scheduler, scheduler_interval="step", progress=False, precision=precision)
    started = time.perf_counter()
    trainer.fit(train, epochs=epochs)
    seconds = time.perf_counter() - started
    return {"library": "strided", "epochs": epochs, "precision": precision, "train_seconds": round(seconds, 1),
            "test_accuracy": trainer.evaluate(test)["accuracy"]}


def run_torch(root, epochs, seed) -> dict:
    import torch

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    train, test = loaders(root, seed)
    model = build_model(torch.nn)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LR, epochs=epochs, steps_per_epoch=len(train))
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=SMOOTHING)
    started = time.perf_counter()
    for epoch in range(epochs):
        train.set_epoch(epoch)
        model.train()
        for x, y in train:
            optimizer.zero_grad()
            criterion(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
            optimizer.step()
            scheduler.step()
    seconds = time.perf_counter() - started
    model.eval()
    correct = 0
    with torch.inference_mode():
        for x, y in test:
            correct += int((model(torch.from_numpy(x)).argmax(1).numpy() == y).sum())
    return {"library": "torch", "epochs": epochs, "train_seconds": round(seconds, 1),
            "test_accuracy": correct / len(test.dataset)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--library", choices=["strided", "torch", "both"], default="both")
    parser.add_argument("--root", default=str(SHARED), help="folder holding the Fashion-MNIST IDX files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=["32", "16-mixed", "bf16-mixed"], default="32",
                        help="strided's precision policy (docs/mixed-precision.md); PyTorch runs float32")
    args = parser.parse_args()
    runners = {"strided": lambda *a: run_strided(*a, precision=args.precision), "torch": run_torch}
    for name in (["strided", "torch"] if args.library == "both" else [args.library]):
        print(json.dumps(runners[name](args.root, args.epochs, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
