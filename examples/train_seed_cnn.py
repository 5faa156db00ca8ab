"""The course document's network, trained end to end on the digits bundled with strided.

The document builds conv 3x3 (32) -> max pool 2 -> conv 3x3 (64) -> max pool 2 and stops at its
feature maps; a classifier needs a last layer, so this adds the document's DenseLayer with a
softmax over the 10 digits, and trains with the document's CNN.fit (plain SGD, cross-entropy on
the softmax's probabilities) on the 4,000 training digits of strided's offline MNIST sample, then
measures the accuracy on its 1,000 test digits, which training never sees.

Run: python examples/train_seed_cnn.py [--epochs 3] [--limit 4000]
"""

import argparse
import time

import numpy as np

import strided as st
from strided.data import MNISTSample
from strided.seed import CNN, ConvolutionalLayer, DenseLayer, MaxPoolingLayer


def load(train: bool, limit: int | None):
    data = MNISTSample(train=train)
    order = np.random.default_rng(0).permutation(len(data))[:limit]  # mixed classes in every batch
    images, labels = data.get_batch(order)
    # uint8 0..255 -> float32, normalised with the sample's mean and spread
    return ((images.astype(np.float32) / 255.0 - 0.13) / 0.31), np.asarray(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="train on the first N shuffled digits only")
    parser.add_argument("--learning-rate", type=float, default=0.05)
    args = parser.parse_args()

    st.manual_seed(0)
    x_train, y_train = load(True, args.limit)
    x_test, y_test = load(False, None)
    cnn = CNN([
        ConvolutionalLayer(num_filters=32, filter_size=3, stride=1, padding=1, activation="relu"),
        MaxPoolingLayer(pool_size=2, stride=2),
        ConvolutionalLayer(num_filters=64, filter_size=3, stride=1, padding=1, activation="relu"),
        MaxPoolingLayer(pool_size=2, stride=2),
        DenseLayer(64 * 7 * 7, 10, activation="softmax"),
    ], learning_rate=args.learning_rate)

    print(f"training on {len(x_train)} digits, testing on {len(x_test)}")
    started = time.perf_counter()
    history = cnn.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=False)
    seconds = time.perf_counter() - started
    for epoch, loss in enumerate(history, start=1):
        print(f"epoch {epoch}: mean training loss {loss:.4f}")
    accuracy = float(np.mean(cnn.predict(x_test).argmax(axis=1) == y_test))
    print(f"test accuracy {accuracy:.1%} after {args.epochs} epoch(s) in {seconds:.1f} s")


if __name__ == "__main__":
    main()
