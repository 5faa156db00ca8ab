"""compute_mean_std: per-channel normalisation constants, streamed over a dataset in batches.

uint8 images are scaled to [0, 1] first (the scale ToFloat gives), so the result plugs straight
into ``Normalize(mean, std)``. Sums run in float64; std is the population standard deviation over
every pixel of every image.
"""

import numpy as np

from .dataset import fetch_batch

BATCH = 2048


def compute_mean_std(dataset, batch_size: int = BATCH) -> tuple:
    """(mean, std): tuples of one float per channel, over all images of ``dataset`` (or an (N, C, H, W) array)."""
    if isinstance(dataset, np.ndarray):
        from .dataset import ArrayDataset

        dataset = ArrayDataset(dataset, np.zeros(len(dataset), np.int64), classes=["0"])
    n = len(dataset)
    if n == 0:
        raise ValueError("compute_mean_std: the dataset is empty")
    total = squares = None
    count = 0
    for start in range(0, n, batch_size):
        images, _ = fetch_batch(dataset, np.arange(start, min(start + batch_size, n)))
        x = images.astype(np.float64)
        if images.dtype == np.uint8:
            x /= 255.0
        batch_sum, batch_squares = x.sum(axis=(0, 2, 3)), np.einsum("nchw,nchw->c", x, x)
        total = batch_sum if total is None else total + batch_sum
        squares = batch_squares if squares is None else squares + batch_squares
        count += x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    return tuple(float(m) for m in mean), tuple(float(s) for s in std)
