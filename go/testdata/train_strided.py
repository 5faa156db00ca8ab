"""strided's side of `strided-go train`: the same network (seed_cnn), data (the MNIST sample's 4,000
training digits, tested on its 1,000 test digits), normalisation, batch size and optimizer (SGD,
momentum 0.9, no Nesterov), so that docs/go.md can set the two times per epoch side by side.

    python go/testdata/train_strided.py [--epochs 3] [--batch-size 64] [--lr 0.05]
"""

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's strided

import strided as st  # noqa: E402
from strided.data.preprocess import Preprocessing  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    st.manual_seed(args.seed)
    train, test = st.data.MNISTSample(train=True), st.data.MNISTSample(train=False)
    (x_train, y_train), (x_test, y_test) = train[: len(train)], test[: len(test)]
    scaled = x_train / 255.0
    mean, std = scaled.mean(), scaled.std()
    pre = Preprocessing("L", (28, 28), (mean,), (std,))
    x_train, x_test = pre.normalize(x_train), pre.normalize(x_test)
    print(f"MNIST sample: {len(y_train)} training, {len(y_test)} test digits; mean {mean:.4f}, std {std:.4f}")
    model = st.models.seed_cnn()
    optimizer = st.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss = st.nn.CrossEntropyLoss()
    rng = np.random.default_rng(args.seed)
    for epoch in range(1, args.epochs + 1):
        wall, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        order = rng.permutation(len(y_train))
        total = correct = 0.0
        model.train()
        for start in range(0, len(order), args.batch_size):
            idx = order[start:start + args.batch_size]
            optimizer.zero_grad()
            logits = model(x_train[idx])
            total += float(loss(logits, y_train[idx])) * len(idx)
            correct += int((logits.argmax(1) == y_train[idx]).sum())
            model.backward(loss.backward())
            optimizer.step()
        cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
        print(f"epoch {epoch}/{args.epochs}: loss {total / len(order):.4f}, accuracy {correct / len(order):.4f}, "
              f"{time.perf_counter() - wall:.1f} s ({cpu:.1f} s CPU)")
    model.eval()
    with st.no_grad():
        predicted = np.concatenate([model(x_test[i:i + 250]).argmax(1) for i in range(0, len(y_test), 250)])
    print(f"test accuracy {(predicted == y_test).mean():.4f}")


if __name__ == "__main__":
    main()
