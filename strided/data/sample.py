"""The small real dataset inside the package: 5,000 MNIST digits (500 per class), CC BY-SA 3.0.

It makes examples, tests and ``strided train`` work offline on a fresh machine; see
strided/data/sample/README.md for its source, licence and checksums.
"""

from pathlib import Path

import numpy as np

from .dataset import ArrayDataset, DatasetError
from .download import file_digest
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_FILES = {
    "images": ("mnist-5k-images-idx3-ubyte.gz", "35c4442b3738be6b58df4ff21f19341f0368e1c3d24840252fb3ff06ba646387"),
    "labels": ("mnist-5k-labels-idx1-ubyte.gz", "abdbe68beb8b8e1983d8086fdcb07e198f851fb0c1af91276c18f154ef0b67d8"),
}


TEST_PER_CLASS = 100  # the last 100 digits of each class are the test split


class MNISTSample(ArrayDataset):
    """5,000 MNIST digits shipped with strided: uint8 (N, 1, 28, 28), labels 0..9, classes "0".."9".

    Like torchvision's MNIST, ``train=True`` (the default) gives the training split, 4,000 digits (the
    first 400 of each class), and ``train=False`` the test split, 1,000 digits (the last 100 of each
    class), so that a model can be evaluated on digits it never saw; ``train=None`` gives all 5,000.
    Stored sorted by class; use ``stratified_split`` for a validation set and a shuffling loader.
    """

    def __init__(self, train: bool | None = True, transform=None):
        paths = {}
        for key, (name, sha256) in SAMPLE_FILES.items():
            path = SAMPLE_DIR / name
            if not path.is_file():
                raise FileNotFoundError(f"MNISTSample: {path} is missing: the strided installation is incomplete")
            if file_digest(path, "sha256") != sha256:
                raise DatasetError(f"MNISTSample: {path} does not match its sha256 {sha256}: the installation is "
                                   "damaged; reinstall strided")
            paths[key] = path
        if train not in (True, False, None):
            raise TypeError(f"MNISTSample: train must be True, False or None, got {train!r}")
        images, labels = read_idx(paths["images"], IMAGES_MAGIC), read_idx(paths["labels"], LABELS_MAGIC)
        if train is not None:
            keep = _test_mask(labels) != train
            images, labels = images[keep], labels[keep]
        super().__init__(images, labels, classes=[str(d) for d in range(10)], transform=transform,
                         name="MNISTSample")


def _test_mask(labels) -> np.ndarray:
    """True for the last TEST_PER_CLASS images of each class (in file order)."""
    labels = np.asarray(labels)
    rank_from_end = np.zeros(len(labels), np.int64)
    for digit in range(10):  # ten classes, not pixels: the loop is over labels' values
        where = np.flatnonzero(labels == digit)
        rank_from_end[where] = np.arange(len(where))[::-1]
    return rank_from_end < TEST_PER_CLASS


def load_sample(train: bool | None = True, transform=None) -> MNISTSample:
    """The bundled MNIST sample's training split (4,000 digits), test split (``train=False``, 1,000) or
    all 5,000 (``train=None``); see MNISTSample."""
    return MNISTSample(train=train, transform=transform)
