"""random_split, stratified_split, compute_mean_std, and the sample shipped in the package."""

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest

import strided as st
from strided.data import (
    ArrayDataset,
    DataLoader,
    DatasetError,
    MNISTSample,
    Subset,
    compute_mean_std,
    dataset_labels,
    load_sample,
    random_split,
    stratified_split,
)
from strided.data import sample as sample_module


def labelled(counts, seed=0):
    labels = np.repeat(np.arange(len(counts)), counts)
    images = np.random.default_rng(seed).integers(0, 256, (len(labels), 2, 3, 3), dtype=np.uint8)
    return ArrayDataset(images, labels)


@pytest.mark.parametrize("lengths, counts", [([30, 20, 50], [30, 20, 50]), ([0.5, 0.3, 0.2], [50, 30, 20]),
                                             ([0.333, 0.333, 0.334], [34, 33, 33])])
def test_random_split(lengths, counts):
    ds = labelled([50, 50])
    parts = random_split(ds, lengths, seed=0)
    assert [len(p) for p in parts] == counts and all(isinstance(p, Subset) for p in parts)
    joined = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(joined), np.arange(100))
    again = random_split(ds, lengths, seed=0)
    assert all(np.array_equal(a.indices, b.indices) for a, b in zip(parts, again, strict=True))
    assert not np.array_equal(random_split(ds, lengths, seed=1)[0].indices, parts[0].indices)
    images, labels = parts[0].get_batch(np.array([0, 1]))
    np.testing.assert_array_equal(images, ds.images[parts[0].indices[:2]])
    np.testing.assert_array_equal(labels, parts[0].labels[:2])


def test_random_split_uses_strided_generator_without_seed():
    ds = labelled([20])
    st.manual_seed(4)
    a = random_split(ds, [10, 10])[0].indices
    st.manual_seed(4)
    np.testing.assert_array_equal(a, random_split(ds, [10, 10])[0].indices)


def test_split_errors():
    with pytest.raises(ValueError, match=r"lengths \[3, 3\] sum to 6, but the dataset has 10 samples"):
        random_split(labelled([10]), [3, 3])
    with pytest.raises(ValueError, match="counts summing to 10 or fractions summing to 1"):
        random_split(labelled([10]), [0.5, 0.2])
    with pytest.raises(ValueError, match="stratified_split: expected fractions summing to 1"):
        stratified_split(labelled([10]), [5, 5])


def test_stratified_split_keeps_class_balance():
    ds = labelled([100, 40, 60, 10])
    train, val = stratified_split(ds, [0.9, 0.1], seed=0)
    assert np.bincount(val.labels).tolist() == [10, 4, 6, 1]
    assert np.bincount(train.labels).tolist() == [90, 36, 54, 9]
    assert not set(train.indices) & set(val.indices) and len(train) + len(val) == len(ds)
    again = stratified_split(ds, [0.9, 0.1], seed=0)[1]
    np.testing.assert_array_equal(again.indices, val.indices)
    other = stratified_split(ds, [0.9, 0.1], seed=5)[1]
    assert not np.array_equal(other.indices, val.indices)
    tiny = stratified_split(labelled([5, 5]), [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in tiny] == [6, 2, 2] and np.bincount(tiny[1].labels, minlength=2).tolist() == [1, 1]


def test_subset_of_subset_and_labels_of_any_dataset():
    ds = labelled([10, 10])
    inner = Subset(Subset(ds, np.arange(5, 15)), np.array([0, 9]))
    np.testing.assert_array_equal(inner.labels, [0, 1])
    assert dataset_labels([(None, 3), (None, 1)]).tolist() == [3, 1]


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_compute_mean_std_matches_numpy(dtype):
    images = np.random.default_rng(0).integers(0, 256, (37, 3, 5, 4)).astype(dtype)
    ds = ArrayDataset(images, np.zeros(37, np.int64))
    mean, std = compute_mean_std(ds, batch_size=8)
    scaled = images / 255.0 if dtype == np.uint8 else images
    np.testing.assert_allclose(mean, scaled.mean(axis=(0, 2, 3)), rtol=1e-12)
    np.testing.assert_allclose(std, scaled.std(axis=(0, 2, 3)), rtol=1e-9)
    np.testing.assert_allclose(compute_mean_std(images, batch_size=5), compute_mean_std(ds), rtol=1e-12)
    with pytest.raises(ValueError, match="compute_mean_std: the dataset is empty"):
        compute_mean_std(ArrayDataset(np.zeros((0, 1, 2, 2), np.uint8), np.zeros(0, np.int64)))


def test_bundled_sample():
    ds = load_sample(train=None)
    assert isinstance(ds, MNISTSample) and len(ds) == 5000
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == np.uint8
    assert ds.classes == [str(d) for d in range(10)]
    assert np.bincount(ds.labels).tolist() == [500] * 10
    mean, std = compute_mean_std(ds)
    assert 0.12 < mean[0] < 0.14 and 0.29 < std[0] < 0.32  # MNIST's well-known 0.1307 and 0.3081
    train, val = stratified_split(ds, [0.9, 0.1], seed=0)
    x, y = next(iter(DataLoader(train, 64, shuffle=True, seed=0)))
    assert x.shape == (64, 1, 28, 28) and len(np.unique(y)) > 5


def test_sample_train_and_test_splits_are_disjoint_and_cover_it():
    everything, train, test = load_sample(train=None), MNISTSample(), MNISTSample(train=False)
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(train.labels).tolist() == [400] * 10 and np.bincount(test.labels).tolist() == [100] * 10
    for digit in range(10):  # the first 400 of each class train, the last 100 test, in file order
        images = everything.images[everything.labels == digit]
        np.testing.assert_array_equal(train.images[train.labels == digit], images[:400])
        np.testing.assert_array_equal(test.images[test.labels == digit], images[400:])
    with pytest.raises(TypeError, match="train must be True, False or None, got 'test'"):
        MNISTSample(train="test")


def test_sample_is_package_data_with_its_licence():
    root = Path(sample_module.__file__).parent
    pyproject = tomllib.loads((root.parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["strided.data"]
    readme = (root / "sample" / "README.md").read_text()
    assert "CC BY-SA 3.0" in readme and any(fnmatch("sample/README.md", g) for g in globs)
    for name, sha256 in sample_module.SAMPLE_FILES.values():
        assert any(fnmatch(f"sample/{name}", g) for g in globs), f"{name} is not declared as package data"
        assert f"| {name} | {sha256} |" in readme
    assert sum((root / "sample" / n).stat().st_size for n, _ in sample_module.SAMPLE_FILES.values()) < 2_000_000


def test_damaged_sample_is_refused(monkeypatch):
    files = dict(sample_module.SAMPLE_FILES)
    files["labels"] = (files["labels"][0], "0" * 64)
    monkeypatch.setattr(sample_module, "SAMPLE_FILES", files)
    with pytest.raises(DatasetError, match="mnist-5k-labels-idx1-ubyte.gz does not match its sha256"):
        MNISTSample()
