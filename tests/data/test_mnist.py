"""MNIST-family datasets: where files are found, what they hold, and clear errors for bad files."""

from pathlib import Path

import numpy as np
import pytest

from strided.data import KMNIST, MNIST, DatasetError, FashionMNIST, write_idx

DECLARED_SYSTEM_DIRS = FashionMNIST.system_dirs  # read before the fixture below replaces it
SHARED_FASHION = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "fashion-mnist"


@pytest.fixture(autouse=True)
def no_system_dataset(monkeypatch, tmp_path):
    """Tests must not pick up a Debian-installed Fashion-MNIST on the machine running them."""
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(tmp_path / "no-system-dataset"),))


@pytest.mark.parametrize("layout", ["root", "root/FashionMNIST", "root/FashionMNIST/raw"])
@pytest.mark.parametrize("gz", [True, False])
def test_loads_from_each_layout(tmp_path, write_mnist, layout, gz):
    folder = tmp_path / layout
    images, labels = write_mnist(folder, n=12, gz=gz)
    ds = FashionMNIST(tmp_path / "root")
    assert len(ds) == 12 and ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == np.uint8
    assert ds.labels.dtype == np.int64
    np.testing.assert_array_equal(ds.images[:, 0], images)
    np.testing.assert_array_equal(ds.labels, labels)
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    image, label = ds[3]
    assert image.shape == (1, 28, 28) and label == labels[3] and isinstance(label, int)
    batch, batch_labels = ds.get_batch(np.array([5, 0, 5]))
    np.testing.assert_array_equal(batch[:, 0], images[[5, 0, 5]])
    np.testing.assert_array_equal(batch_labels, labels[[5, 0, 5]])


def test_train_and_test_splits(tmp_path, write_mnist):
    write_mnist(tmp_path, n=12, prefix="train", seed=1)
    test_images, _ = write_mnist(tmp_path, n=7, prefix="t10k", seed=2)
    assert len(MNIST(tmp_path, train=True)) == 12
    test = MNIST(tmp_path, train=False)
    assert len(test) == 7 and not test.train
    np.testing.assert_array_equal(test.data[:, 0], test_images)
    assert test.targets is test.labels


def test_cache_folder_from_environment(isolated_cache, write_mnist):
    write_mnist(isolated_cache / "KMNIST", n=10)
    ds = KMNIST()
    assert len(ds) == 10 and ds.classes[1] == "ki"
    assert ds.files[0].parent == isolated_cache / "KMNIST"


def test_system_package_folder_is_found_without_download(tmp_path, write_mnist, monkeypatch):
    system = tmp_path / "usr/share/datasets/fashion-mnist"
    write_mnist(system, n=10)
    monkeypatch.setattr(FashionMNIST, "system_dirs", (str(system),))
    ds = FashionMNIST()
    assert len(ds) == 10 and ds.files[0].parent == system


def test_debian_location_is_declared():
    assert DECLARED_SYSTEM_DIRS == ("/usr/share/datasets/fashion-mnist",)


def test_missing_files_say_what_to_place_where(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path / "empty")
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz not found" in message
    assert f"Place them (gzip or uncompressed) in {tmp_path / 'empty' / 'MNIST'}" in message
    assert "download=True" in message


def test_images_and_labels_of_different_counts(tmp_path, write_mnist):
    write_mnist(tmp_path, n=12)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(11, np.uint8))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz holds 12 images but .* holds 11 labels"):
        MNIST(tmp_path)


def test_swapped_files_give_wrong_magic(tmp_path, write_mnist):
    write_mnist(tmp_path, n=12)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(12, np.uint8))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: wrong magic number 0x00000801"):
        MNIST(tmp_path)


def test_label_out_of_range(tmp_path, write_mnist):
    write_mnist(tmp_path, n=12)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.full(12, 12, np.uint8))
    with pytest.raises(DatasetError, match="label 12 found, but MNIST has 10 classes"):
        MNIST(tmp_path)


def test_truncated_images_file(tmp_path, write_mnist):
    write_mnist(tmp_path, n=12, gz=False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: truncated"):
        MNIST(tmp_path)


@pytest.mark.skipif(not SHARED_FASHION.is_dir(), reason="the shared full Fashion-MNIST is not on this machine")
def test_full_fashion_mnist():
    train, test = FashionMNIST(SHARED_FASHION, train=True), FashionMNIST(SHARED_FASHION, train=False)
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    np.testing.assert_array_equal(np.bincount(train.labels), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test.labels), np.full(10, 1000))
    assert 0.28 < train.images.mean() / 255 < 0.29  # the known mean pixel 0.2860
