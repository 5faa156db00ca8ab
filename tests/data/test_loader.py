"""DataLoader: every sample once per epoch, repeatable batches whatever the threading, clean stops, errors."""

import gc
import threading
import time

import numpy as np
import pytest

import strided as st
from strided.data import ArrayDataset, DataLoader
from strided.data import transforms as T


def dataset(n=103, transform=None):
    """Image k is filled with the value k (float64), so a batch tells which samples it holds."""
    images = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None, None], (n, 1, 2, 2)).copy()
    return ArrayDataset(images, np.arange(n) % 10, transform=transform)


def loader_threads():
    return [t for t in threading.enumerate() if t.name.startswith("strided-loader")]


def epoch(loader):
    return [(x.copy(), y.copy()) for x, y in loader]


@pytest.mark.parametrize("prefetch, workers", [(0, 0), (2, 0), (1, 3)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_sample_exactly_once_per_epoch(prefetch, workers, drop_last):
    ds = dataset()
    loader = DataLoader(ds, batch_size=10, shuffle=True, drop_last=drop_last, prefetch=prefetch,
                        num_workers=workers, seed=0)
    assert len(loader) == (10 if drop_last else 11)
    for _ in range(2):
        batches = epoch(loader)
        assert len(batches) == len(loader)
        assert all(x.dtype == np.float32 and x.shape[1:] == (1, 2, 2) and y.dtype == np.int64 for x, y in batches)
        first_pixels = np.concatenate([x[:, 0, 0, 0].astype(int) for x, _ in batches])
        labels = np.concatenate([y for _, y in batches])
        np.testing.assert_array_equal(labels, first_pixels % 10)
        if drop_last:
            assert len(first_pixels) == 100 and len(np.unique(first_pixels)) == 100
        else:
            np.testing.assert_array_equal(np.sort(first_pixels), np.arange(103))
            assert not np.array_equal(first_pixels, np.arange(103))  # shuffled


def test_no_shuffle_keeps_order_and_scales_uint8():
    x, y = next(iter(DataLoader(dataset(), batch_size=5)))
    np.testing.assert_array_equal(x[:, 0, 0, 0], np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(y, np.arange(5))
    u8 = ArrayDataset(np.arange(20, dtype=np.uint8).reshape(5, 1, 2, 2), np.zeros(5, np.int64))
    x, _ = next(iter(DataLoader(u8, batch_size=5)))
    np.testing.assert_array_equal(x, (np.arange(20).reshape(5, 1, 2, 2) / np.float32(255)).astype(np.float32))


def test_same_batches_whatever_prefetch_and_workers():
    aug = T.Compose([T.RandomCrop(2, padding=1), T.RandomHorizontalFlip()])
    runs = [epoch(DataLoader(dataset(), 8, shuffle=True, transform=aug, prefetch=p, num_workers=w, seed=3))
            for p, w in [(0, 0), (2, 0), (3, 2), (1, 4)]]
    for run in runs[1:]:
        for (xa, ya), (xb, yb) in zip(runs[0], run, strict=True):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_epochs_differ_and_set_epoch_replays():
    loader = DataLoader(dataset(), 10, shuffle=True, transform=T.RandomHorizontalFlip(), seed=1)
    first, second = epoch(loader), epoch(loader)
    assert not np.array_equal(first[0][1], second[0][1])
    loader.set_epoch(1)
    np.testing.assert_array_equal(epoch(loader)[0][0], second[0][0])


def test_state_dict_resumes_a_loader_with_a_drawn_seed():
    loader = DataLoader(dataset(), 10, shuffle=True, transform=T.RandomHorizontalFlip())
    epoch(loader)
    state = loader.state_dict()
    expected = epoch(loader)
    fresh = DataLoader(dataset(), 10, shuffle=True, transform=T.RandomHorizontalFlip(), seed=0)
    fresh.load_state_dict(state)
    assert state["epoch"] == 1
    for (xa, ya), (xb, yb) in zip(expected, epoch(fresh), strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_seed_from_strided_generator_and_global_generator_untouched():
    st.manual_seed(11)
    a = epoch(DataLoader(dataset(), 10, shuffle=True))
    st.manual_seed(11)
    loader = DataLoader(dataset(), 10, shuffle=True, transform=T.RandomRotation(30))
    state = st.get_rng_state()
    b = epoch(loader)
    assert st.get_rng_state() == state  # augmentation and shuffling use the loader's own generators
    np.testing.assert_array_equal(a[0][1], b[0][1])


def test_dataset_level_transform_gets_the_loader_rng():
    ds = dataset(transform=T.RandomHorizontalFlip())
    a, b = epoch(DataLoader(ds, 16, seed=4)), epoch(DataLoader(ds, 16, seed=4, prefetch=0))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in a]), np.concatenate([x for x, _ in b]))


def test_generic_indexable_dataset():
    samples = [(np.full((3, 3), i, np.float64), i % 2) for i in range(7)]
    x, y = next(iter(DataLoader(samples, batch_size=4, prefetch=0)))
    assert x.shape == (4, 1, 3, 3) and x.dtype == np.float32 and y.tolist() == [0, 1, 0, 1]


class Exploding(ArrayDataset):
    def get_batch(self, indices, rng=None):
        if 50 in indices:
            raise RuntimeError("sample 50 is broken")
        return super().get_batch(indices, rng)


@pytest.mark.parametrize("prefetch, workers", [(0, 0), (2, 0), (2, 3)])
def test_exception_in_thread_surfaces_with_its_message(prefetch, workers):
    ds = Exploding(np.zeros((100, 1, 2, 2), np.uint8), np.zeros(100, np.int64))
    seen = 0
    with pytest.raises(RuntimeError, match="sample 50 is broken") as info:
        for _ in DataLoader(ds, batch_size=10, prefetch=prefetch, num_workers=workers):
            seen += 1
    assert seen == 5
    if prefetch:
        assert "preparing batch 5" in "".join(getattr(info.value, "__notes__", []))
    time.sleep(0.01)
    assert not loader_threads()


def test_abandoned_iteration_stops_the_threads():
    loader = DataLoader(dataset(1000), batch_size=2, prefetch=2, num_workers=2)
    iterator = iter(loader)
    next(iterator)
    assert loader_threads()
    del iterator
    gc.collect()
    assert not loader_threads()
    for _ in loader:
        break
    gc.collect()
    assert not loader_threads()
    iterator = iter(loader)
    next(iterator)
    iterator.close()
    assert not loader_threads()


def test_prefetch_overlaps_with_the_consumer():
    class Slow(ArrayDataset):
        def get_batch(self, indices, rng=None):
            time.sleep(0.02)
            return super().get_batch(indices, rng)

    ds = Slow(np.zeros((10, 1, 2, 2), np.uint8), np.zeros(10, np.int64))

    def run(prefetch):
        start = time.perf_counter()
        for _ in DataLoader(ds, batch_size=1, prefetch=prefetch):
            time.sleep(0.02)
        return time.perf_counter() - start

    assert run(2) < 0.8 * run(0)


def test_argument_errors():
    with pytest.raises(ValueError, match="DataLoader: batch_size must be a positive integer, got 0"):
        DataLoader(dataset(), batch_size=0)
    with pytest.raises(ValueError, match="prefetch must be a non-negative integer, got -1"):
        DataLoader(dataset(), prefetch=-1)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        DataLoader(dataset(), seed=-5)
    with pytest.raises(ValueError, match="expected a dataset with a length, got int"):
        DataLoader(3)
    with pytest.raises(ValueError, match=r"expected image batches of shape \(N, C, H, W\), got \(4, 4\)"):
        next(iter(DataLoader(dataset(), 4, transform=lambda x: x.reshape(4, 4), prefetch=0)))
