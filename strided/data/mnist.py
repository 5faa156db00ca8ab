"""MNIST, Fashion-MNIST and Kuzushiji-MNIST: 28x28 grey images in IDX files, 10 classes.

``FashionMNIST(root=None, train=True, download=False)`` looks for the two files of the split
(``train-*`` or ``t10k-*``, gzip or raw) in ``root``, ``root/FashionMNIST`` and
``root/FashionMNIST/raw`` (torchvision's layout), or in ``$STRIDED_HOME/FashionMNIST`` when
``root`` is None, then in the folders system packages install (Debian's ``dataset-fashion-mnist``
puts Fashion-MNIST in /usr/share/datasets/fashion-mnist). Files found on disk are validated by
their content (magic numbers, sizes, counts, label range); downloaded files are checked against
the MD5 sums the datasets' authors publish.
"""

from pathlib import Path

import numpy as np

from .dataset import ArrayDataset, DatasetError
from .download import DownloadError, cache_dir, download_url
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

SPLITS = {True: "train", False: "t10k"}


def find_file(folder: Path, name: str) -> Path | None:
    """``folder/name``, or the uncompressed ``folder/name`` without .gz, whichever exists."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def find_folder(names, folders):
    """The first folder holding every one of ``names`` (gzip or raw), with the paths found there."""
    for folder in folders:
        paths = [find_file(folder, name) for name in names]
        if all(paths):
            return folder, paths
    return None, None


class _MNISTLike(ArrayDataset):
    folder = "MNIST"
    mirrors = ()
    checksums = {}
    system_dirs = ()
    classes = []

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None):
        prefix = SPLITS[bool(train)]
        names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        target = (Path(root).expanduser() / self.folder) if root is not None else cache_dir() / self.folder
        folders = [Path(root).expanduser(), target, target / "raw"] if root is not None else [target]
        folders += [Path(p) for p in self.system_dirs]
        where, paths = find_folder(names, folders)
        if where is None:
            if not download:
                raise FileNotFoundError(self._missing_message(names, folders, target))
            paths = [self._download(name, target) for name in names]
        images = read_idx(paths[0], magic=IMAGES_MAGIC)
        labels = read_idx(paths[1], magic=LABELS_MAGIC)
        if len(images) != len(labels):
            raise DatasetError(f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels")
        if labels.size and labels.max() >= len(self.classes):
            raise DatasetError(f"{paths[1]}: label {labels.max()} found, but {type(self).__name__} has "
                               f"{len(self.classes)} classes")
        self.train = bool(train)
        self.files = paths
        super().__init__(images, labels, classes=type(self).classes, transform=transform,
                         name=f"{type(self).__name__}({'train' if train else 'test'})")

    def _download(self, name: str, target: Path) -> Path:
        try:
            return download_url([m + name for m in self.mirrors], target / name, self.checksums.get(name))
        except DownloadError as error:
            raise DownloadError(f"{type(self).__name__}: {error}") from error

    def _missing_message(self, names, folders, target) -> str:
        hint = f", install the system package that provides {self.system_dirs[0]}" if self.system_dirs else ""
        return (f"{type(self).__name__}: {' and '.join(names)} not found (looked in "
                f"{', '.join(str(f) for f in folders)}). Place them (gzip or uncompressed) in {target}{hint}, "
                f"or pass download=True to fetch them from {self.mirrors[0] if self.mirrors else 'the web'}")

    @property
    def data(self) -> np.ndarray:
        return self.images

    @property
    def targets(self) -> np.ndarray:
        return self.labels


class MNIST(_MNISTLike):
    """MNIST handwritten digits (LeCun, Cortes, Burges; CC BY-SA 3.0): 60,000 + 10,000 images."""

    folder = "MNIST"
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
    checksums = {
        "train-images-idx3-ubyte.gz": "md5:f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "md5:d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "md5:9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "md5:ec29112dd5afa0611ce80d1b7f02629c",
    }
    classes = [str(d) for d in range(10)]


class FashionMNIST(_MNISTLike):
    """Zalando's Fashion-MNIST (MIT licence): 60,000 + 10,000 images of clothes in 10 classes."""

    folder = "FashionMNIST"
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    checksums = {
        "train-images-idx3-ubyte.gz": "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "md5:25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "md5:bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "md5:bb300cfdad3c16e7a12a480ee83cd310",
    }
    system_dirs = ("/usr/share/datasets/fashion-mnist",)
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class KMNIST(_MNISTLike):
    """Kuzushiji-MNIST (ROIS-DS CODH; CC BY-SA 4.0): 60,000 + 10,000 cursive hiragana in 10 classes."""

    folder = "KMNIST"
    mirrors = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
    checksums = {
        "train-images-idx3-ubyte.gz": "md5:bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "md5:e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "md5:5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "md5:7320c461ea6c1c855c0b718fb2a4b134",
    }
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
