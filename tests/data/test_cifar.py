"""CIFAR-10 binary batches: layout, bad files, and download of the archive (extracting only the batch files)."""

import hashlib
import io
import tarfile

import numpy as np
import pytest

from strided.data import CIFAR10, DatasetError, read_cifar_batch
from strided.data.cifar import FOLDER, TEST_FILES, TRAIN_FILES


def batch_bytes(n, seed, labels=None):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8) if labels is None else np.asarray(labels, np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    return records.tobytes(), images, labels


def write_cifar(folder, n=3):
    folder.mkdir(parents=True, exist_ok=True)
    contents = {}
    for k, name in enumerate(TRAIN_FILES + TEST_FILES):
        data, images, labels = batch_bytes(n, seed=k)
        (folder / name).write_bytes(data)
        contents[name] = (images, labels)
    return contents


def test_record_layout_label_then_red_green_blue_planes(tmp_path):
    rng = np.random.default_rng(0)
    record = np.concatenate([[7], rng.integers(0, 256, 3072)]).astype(np.uint8)
    (tmp_path / "b.bin").write_bytes(record.tobytes())
    images, labels = read_cifar_batch(tmp_path / "b.bin")
    assert images.shape == (1, 3, 32, 32) and labels.tolist() == [7] and labels.dtype == np.int64
    np.testing.assert_array_equal(images[0, 0, 0, :], record[1:33])          # first row of red
    np.testing.assert_array_equal(images[0, 1].ravel(), record[1 + 1024:1 + 2048])  # the green plane
    np.testing.assert_array_equal(images[0, 2, 31, 31], record[-1])


@pytest.mark.parametrize("inside", [True, False])
def test_train_and_test(tmp_path, inside):
    contents = write_cifar(tmp_path / FOLDER if inside else tmp_path, n=3)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path, train=False)
    assert len(train) == 15 and train.images.shape == (15, 3, 32, 32) and len(test) == 3
    np.testing.assert_array_equal(train.images[3:6], contents["data_batch_2.bin"][0])
    np.testing.assert_array_equal(test.labels, contents["test_batch.bin"][1])
    assert train.classes[0] == "airplane" and train.classes[9] == "truck"


def test_truncated_batch(tmp_path):
    write_cifar(tmp_path, n=2)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetError, match=r"test_batch.bin: 6136 bytes is not a whole number of 3073-byte"):
        CIFAR10(tmp_path, train=False)


def test_label_out_of_range(tmp_path):
    data, _, _ = batch_bytes(3, 0, labels=[1, 10, 2])
    (tmp_path / "test_batch.bin").write_bytes(data)
    with pytest.raises(DatasetError, match="record 1 has label 10, expected 0..9"):
        CIFAR10(tmp_path, train=False)


def test_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=rf"Place the binary version's files in {tmp_path / FOLDER}"):
        CIFAR10(tmp_path)


def archive_bytes(contents, extra=()):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in list(contents.items()) + list(extra):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_download_extracts_only_the_batch_files(http_server, tmp_path, monkeypatch):
    contents = {f"{FOLDER}/{name}": batch_bytes(2, k)[0] for k, name in enumerate(TRAIN_FILES + TEST_FILES)}
    archive = archive_bytes(contents, extra=[("../escape.bin", b"x"), (f"{FOLDER}/../../escape2.bin", b"y")])
    http_server.routes["/cifar-10-binary.tar.gz"] = (archive, "ok")
    monkeypatch.setattr(CIFAR10, "url", http_server.url("/cifar-10-binary.tar.gz"))
    monkeypatch.setattr(CIFAR10, "archive_checksum", "sha256:" + hashlib.sha256(archive).hexdigest())
    root = tmp_path / "root"
    test = CIFAR10(root, train=False, download=True)
    assert len(test) == 2 and test.images.dtype == np.uint8
    assert sorted(p.name for p in (root / FOLDER).iterdir()) == sorted(TRAIN_FILES + TEST_FILES)
    assert sorted(p.name for p in root.iterdir()) == [FOLDER]  # archive removed, nothing escaped
    assert not (tmp_path / "escape.bin").exists() and not (tmp_path / "escape2.bin").exists()


def test_download_of_an_incomplete_archive(http_server, tmp_path, monkeypatch):
    archive = archive_bytes({f"{FOLDER}/test_batch.bin": batch_bytes(2, 0)[0]})
    http_server.routes["/c.tar.gz"] = (archive, "ok")
    monkeypatch.setattr(CIFAR10, "url", http_server.url("/c.tar.gz"))
    monkeypatch.setattr(CIFAR10, "archive_checksum", "sha256:" + hashlib.sha256(archive).hexdigest())
    with pytest.raises(DatasetError, match=rf"archive lacks {FOLDER}/data_batch_1.bin"):
        CIFAR10(tmp_path, download=True)
