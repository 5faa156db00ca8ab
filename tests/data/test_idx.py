"""The IDX reader: round trips, and a clear error naming the file for every kind of damage."""

import gzip

import numpy as np
import pytest

from strided.data import DatasetError, read_idx, write_idx
from strided.data.idx import IMAGES_MAGIC, LABELS_MAGIC


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip_gzip_and_raw(tmp_path, name, dtype):
    array = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_mnist_magic_numbers(tmp_path):
    write_idx(tmp_path / "images", np.zeros((4, 28, 28), np.uint8))
    write_idx(tmp_path / "labels", np.zeros(4, np.uint8))
    assert read_idx(tmp_path / "images", IMAGES_MAGIC).shape == (4, 28, 28)
    assert read_idx(tmp_path / "labels", LABELS_MAGIC).shape == (4,)
    with pytest.raises(DatasetError, match=r"labels: wrong magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "labels", IMAGES_MAGIC)


def test_gzip_compression_is_detected_by_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "plain-name", array, compress=True)
    np.testing.assert_array_equal(read_idx(tmp_path / "plain-name"), array)


@pytest.mark.parametrize("cut, message", [(2, "too short for an IDX header"), (6, "truncated header"),
                                          (20, "truncated: the header promises shape")])
def test_truncated_raw_file(tmp_path, cut, message):
    data = (write_idx(tmp_path / "full", np.ones((3, 4, 4), np.uint8))).read_bytes()
    (tmp_path / "cut").write_bytes(data[:cut])
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(tmp_path / "cut")
    assert str(tmp_path / "cut") in str(info.value)


def test_trailing_bytes(tmp_path):
    data = write_idx(tmp_path / "f", np.ones(5, np.uint8)).read_bytes()
    (tmp_path / "f").write_bytes(data + b"\x00")
    with pytest.raises(DatasetError, match="has trailing bytes"):
        read_idx(tmp_path / "f")


def test_truncated_and_damaged_gzip(tmp_path):
    data = gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x10" + bytes(16))
    (tmp_path / "cut.gz").write_bytes(data[: len(data) - 6])
    with pytest.raises(DatasetError, match=r"cut.gz: truncated gzip file"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "bad.gz").write_bytes(data[:10] + b"\xff" * 20)
    with pytest.raises(DatasetError, match=r"bad.gz: damaged gzip data"):
        read_idx(tmp_path / "bad.gz")


def test_not_idx_and_missing(tmp_path):
    (tmp_path / "text").write_bytes(b"hello world, no IDX here")
    with pytest.raises(DatasetError, match="not an IDX file"):
        read_idx(tmp_path / "text")
    with pytest.raises(FileNotFoundError, match="nowhere: no such file"):
        read_idx(tmp_path / "nowhere")


def test_write_rejects_unknown_dtype(tmp_path):
    with pytest.raises(ValueError, match="dtype uint16 has no IDX type code"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
