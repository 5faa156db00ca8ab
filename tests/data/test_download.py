"""Downloads against a real HTTP server on 127.0.0.1: good file, bad checksum, cut transfer, mirrors, offline."""

import hashlib
import time

import numpy as np
import pytest

from strided.data import MNIST, DownloadError, FashionMNIST, cache_dir, check_integrity, download_url
from strided.data.idx import write_idx

PAYLOAD = bytes(range(256)) * 40


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_cache_dir_follows_environment(isolated_cache, monkeypatch, tmp_path):
    assert cache_dir() == isolated_cache
    monkeypatch.delenv("STRIDED_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "strided"


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_good_file(http_server, tmp_path, algorithm):
    http_server.routes["/f.bin"] = (PAYLOAD, "ok")
    checksum = f"{algorithm}:{hashlib.new(algorithm, PAYLOAD).hexdigest()}"
    path = download_url(http_server.url("/f.bin"), tmp_path / "sub" / "f.bin", checksum, progress=True)
    assert path.read_bytes() == PAYLOAD and check_integrity(path, checksum)
    assert leftovers(path.parent) == []
    download_url(http_server.url("/f.bin"), path, checksum)  # present and matching: not fetched again
    assert http_server.hits == ["/f.bin"]


def test_bad_checksum_keeps_nothing(http_server, tmp_path):
    http_server.routes["/f.bin"] = (PAYLOAD, "ok")
    wrong = sha256(b"something else")
    with pytest.raises(DownloadError, match=r"checksum mismatch: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}"):
        download_url(http_server.url("/f.bin"), tmp_path / "f.bin", wrong, progress=False)
    assert not (tmp_path / "f.bin").exists() and leftovers(tmp_path) == []


def test_interrupted_transfer_leaves_good_earlier_file_intact(http_server, tmp_path):
    earlier = b"the good earlier file"
    (tmp_path / "f.bin").write_bytes(earlier)
    http_server.routes["/f.bin"] = (PAYLOAD, "cut")
    with pytest.raises(DownloadError, match=r"transfer interrupted after 5120 of 10240 bytes"):
        download_url(http_server.url("/f.bin"), tmp_path / "f.bin", force=True, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == earlier and leftovers(tmp_path) == []


def test_stale_file_is_replaced_only_by_a_verified_one(http_server, tmp_path):
    (tmp_path / "f.bin").write_bytes(b"stale")
    http_server.routes["/f.bin"] = (PAYLOAD, "cut")
    with pytest.raises(DownloadError):
        download_url(http_server.url("/f.bin"), tmp_path / "f.bin", sha256(PAYLOAD), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == b"stale"
    http_server.routes["/f.bin"] = (PAYLOAD, "ok")
    download_url(http_server.url("/f.bin"), tmp_path / "f.bin", sha256(PAYLOAD), progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_mirrors_are_tried_in_order(http_server, tmp_path):
    http_server.routes["/b/f.bin"] = (PAYLOAD, "ok")
    urls = [http_server.url("/a/f.bin"), http_server.url("/b/f.bin")]
    download_url(urls, tmp_path / "f.bin", sha256(PAYLOAD), progress=False)
    assert http_server.hits == ["/a/f.bin", "/b/f.bin"] and (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_offline_fails_at_once_saying_where_to_put_the_file(closed_port_url, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DownloadError, match=rf"place the file at {tmp_path / 'f.bin'} by hand"):
        download_url(closed_port_url + "f.bin", tmp_path / "f.bin", progress=False)
    assert time.perf_counter() - start < 5


def test_checksum_format_is_checked(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(ValueError, match="checksum must look like 'sha256:<hex>'"):
        check_integrity(tmp_path / "f", "crc32:1234")


def _idx_bytes(array, folder) -> bytes:
    return write_idx(folder / "served.gz", array).read_bytes()


def test_dataset_download_end_to_end(http_server, isolated_cache, tmp_path, monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.arange(6, dtype=np.uint8)
    files = {"t10k-images-idx3-ubyte.gz": _idx_bytes(images, tmp_path),
             "t10k-labels-idx1-ubyte.gz": _idx_bytes(labels, tmp_path)}
    for name, data in files.items():
        http_server.routes[f"/mnist/{name}"] = (data, "ok")
    monkeypatch.setattr(MNIST, "mirrors", (http_server.url("/missing/"), http_server.url("/mnist/")))
    monkeypatch.setattr(MNIST, "checksums", {name: sha256(data) for name, data in files.items()})
    ds = MNIST(train=False, download=True)
    np.testing.assert_array_equal(ds.images[:, 0], images)
    assert sorted(p.name for p in (isolated_cache / "MNIST").iterdir()) == sorted(files)
    hits = len(http_server.hits)
    MNIST(train=False, download=True)  # found in the cache: no new request
    assert len(http_server.hits) == hits


def test_dataset_download_with_wrong_published_checksum(http_server, monkeypatch, tmp_path):
    http_server.routes["/t10k-images-idx3-ubyte.gz"] = (_idx_bytes(np.zeros((2, 28, 28), np.uint8), tmp_path), "ok")
    monkeypatch.setattr(MNIST, "mirrors", (http_server.url("/"),))
    with pytest.raises(DownloadError, match="MNIST: .*checksum mismatch: expected md5 9fb629c4189551a2d022fa3"):
        MNIST(train=False, download=True)


def test_dataset_download_offline(closed_port_url, isolated_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(FashionMNIST, "mirrors", (closed_port_url,))
    monkeypatch.setattr(FashionMNIST, "system_dirs", ())
    with pytest.raises(DownloadError) as info:
        FashionMNIST(download=True)
    assert "FashionMNIST: could not download train-images-idx3-ubyte.gz" in str(info.value)
    assert str(isolated_cache / "FashionMNIST" / "train-images-idx3-ubyte.gz") in str(info.value)
