"""Tiny models, data and loaders shared by the training tests (small enough to train in milliseconds)."""

import numpy as np

import strided as st

CLASSES = 3
SIZE = 6  # images are (1, SIZE, SIZE)


def tiny_cnn(dtype=np.float32, dropout=0.0):
    """conv 3x3 -> ReLU -> flatten -> [dropout] -> linear: no batch norm, so batches are independent."""
    layers = [st.nn.Conv2d(1, 4, 3, padding=1), st.nn.ReLU(), st.nn.Flatten()]
    if dropout:
        layers.append(st.nn.Dropout(dropout))
    layers.append(st.nn.Linear(4 * SIZE * SIZE, CLASSES))
    return st.nn.Sequential(*layers).to(dtype)


def tiny_data(n=48, seed=0, dtype=np.float32):
    """Random images whose class is learnable: each class brightens a different third of the image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n).astype(np.int64)
    x = rng.standard_normal((n, 1, SIZE, SIZE))
    for c in range(CLASSES):
        x[y == c, :, 2 * c:2 * c + 2, :] += 1.5
    return x.astype(dtype), y


def batches(x, y, sizes):
    """A list loader: consecutive batches of the given sizes."""
    out, start = [], 0
    for size in sizes:
        out.append((x[start:start + size], y[start:start + size]))
        start += size
    assert start == len(x)
    return out


class ShuffleLoader:
    """A loader with its own seeded generator and a state dict, as a real DataLoader has."""

    def __init__(self, x, y, batch_size, seed):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __iter__(self):
        order = self.generator.permutation(len(self.x))
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.x[index], self.y[index]

    def state_dict(self):
        return {"generator": self.generator.bit_generator.state}

    def load_state_dict(self, state):
        self.generator.bit_generator.state = state["generator"]
