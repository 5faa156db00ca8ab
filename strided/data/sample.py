"""The small real dataset inside the package: 5,000 MNIST digits (500 per class), CC BY-SA 3.0.

It makes examples, tests and ``strided train`` work offline on a fresh machine; see
strided/data/sample/README.md for its source, licence and checksums.
"""

from pathlib import Path

from .dataset import ArrayDataset, DatasetError
from .download import file_digest
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

SAMPLE_DIR = Path(__file__).parent / "sample"
SAMPLE_FILES = {
    "images": ("mnist-5k-images-idx3-ubyte.gz", "35c4442b3738be6b58df4ff21f19341f0368e1c3d24840252fb3ff06ba646387"),
    "labels": ("mnist-5k-labels-idx1-ubyte.gz", "abdbe68beb8b8e1983d8086fdcb07e198f851fb0c1af91276c18f154ef0b67d8"),
}


class MNISTSample(ArrayDataset):
    """5,000 MNIST digits shipped with strided: uint8 (5000, 1, 28, 28), labels 0..9, classes "0".."9".

    Stored sorted by class; use ``stratified_split`` for a validation set and a shuffling loader.
    """

    def __init__(self, transform=None):
        paths = {}
        for key, (name, sha256) in SAMPLE_FILES.items():
            path = SAMPLE_DIR / name
            if not path.is_file():
                raise FileNotFoundError(f"MNISTSample: {path} is missing: the strided installation is incomplete")
            if file_digest(path, "sha256") != sha256:
                raise DatasetError(f"MNISTSample: {path} does not match its sha256 {sha256}: the installation is "
                                   "damaged; reinstall strided")
            paths[key] = path
        super().__init__(read_idx(paths["images"], IMAGES_MAGIC), read_idx(paths["labels"], LABELS_MAGIC),
                         classes=[str(d) for d in range(10)], transform=transform, name="MNISTSample")


def load_sample(transform=None) -> MNISTSample:
    """The bundled 5,000-digit MNIST sample (see MNISTSample)."""
    return MNISTSample(transform=transform)
