"""CIFAR-10 from its binary version (never the pickled "python version": unpickling runs code).

Each batch file is a run of 3,073-byte records: one label byte, then 1,024 red, 1,024 green and
1,024 blue values of a 32x32 image. Training is data_batch_1..5.bin (50,000 images), test is
test_batch.bin (10,000), all in a ``cifar-10-batches-bin`` folder.
"""

import os
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .dataset import ArrayDataset, DatasetError
from .download import DownloadError, cache_dir, download_url

CHANNELS, SIZE = 3, 32
RECORD_BYTES = 1 + CHANNELS * SIZE * SIZE
FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)


def read_cifar_batch(path, num_classes: int = 10):
    """One binary batch file -> (uint8 images (N, 3, 32, 32), int64 labels (N,))."""
    path = Path(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    if data.size == 0 or data.size % RECORD_BYTES:
        raise DatasetError(f"{path}: {data.size} bytes is not a whole number of {RECORD_BYTES}-byte CIFAR records "
                           "(truncated, or not the binary version of CIFAR-10)")
    records = data.reshape(-1, RECORD_BYTES)
    labels = records[:, 0].astype(np.int64)
    if labels.max() >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetError(f"{path}: record {bad} has label {labels[bad]}, expected 0..{num_classes - 1} "
                           "(not a CIFAR-10 binary batch?)")
    return records[:, 1:].reshape(-1, CHANNELS, SIZE, SIZE), labels


def extract_members(archive: Path, names, destination: Path) -> None:
    """Copy only the regular files ``FOLDER/<name>`` out of a tar archive (no path from the archive is trusted)."""
    destination.mkdir(parents=True, exist_ok=True)
    wanted = {f"{FOLDER}/{name}": name for name in names}
    try:
        with tarfile.open(archive) as tar:
            found = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            missing = [member for member in wanted if member not in found]
            if missing:
                raise DatasetError(f"{archive}: archive lacks {', '.join(missing)}")
            for member, name in wanted.items():
                fd, part = tempfile.mkstemp(prefix=name + ".", suffix=".part", dir=destination)
                try:
                    with os.fdopen(fd, "wb") as out, tar.extractfile(found[member]) as source:
                        out.write(source.read())
                    os.replace(part, destination / name)
                finally:
                    Path(part).unlink(missing_ok=True)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DatasetError(f"{archive}: damaged archive ({error})") from error


class CIFAR10(ArrayDataset):
    """CIFAR-10 (Krizhevsky 2009): 32x32 colour images, 50,000 + 10,000, in 10 classes.

    Looks for ``cifar-10-batches-bin`` in ``root`` (or ``root`` itself holding the .bin files), or in
    ``$STRIDED_HOME`` when ``root`` is None. ``download=True`` fetches the binary archive, checks its
    MD5, and extracts only the batch files.
    """

    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    archive_checksum = "md5:c32a1d4ab5d03f1284b67883e8d87530"
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None):
        base = Path(root).expanduser() if root is not None else cache_dir()
        names = TRAIN_FILES if train else TEST_FILES
        folders = [base / FOLDER, base]
        folder = next((f for f in folders if all((f / n).is_file() for n in names)), None)
        if folder is None:
            if not download:
                raise FileNotFoundError(
                    f"CIFAR10: {', '.join(names)} not found in {' or '.join(str(f) for f in folders)}. Place the "
                    f"binary version's files in {base / FOLDER} (from {self.url}), or pass download=True")
            folder = self._download(base)
        parts = [read_cifar_batch(folder / name, len(self.classes)) for name in names]
        self.train = bool(train)
        self.files = [folder / name for name in names]
        super().__init__(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                         classes=type(self).classes, transform=transform,
                         name=f"CIFAR10({'train' if train else 'test'})")

    def _download(self, base: Path) -> Path:
        archive = base / Path(self.url).name
        try:
            download_url(self.url, archive, self.archive_checksum)
        except DownloadError as error:
            raise DownloadError(f"CIFAR10: {error}") from error
        extract_members(archive, TRAIN_FILES + TEST_FILES, base / FOLDER)
        archive.unlink()
        return base / FOLDER
