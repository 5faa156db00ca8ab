"""DistributedSampler: every example on exactly one rank per epoch, PyTorch's padding and split."""

import numpy as np
import pytest
import torch.utils.data

import strided as st
from strided.data import DistributedSampler


@pytest.mark.parametrize("n", [1, 2, 7, 12, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_each_epoch_covers_the_dataset_once(n, replicas, shuffle):
    dataset = np.zeros(n)
    for epoch in (0, 1):
        shares = []
        for rank in range(replicas):
            sampler = DistributedSampler(dataset, num_replicas=replicas, rank=rank, shuffle=shuffle, seed=4)
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
            assert len(sampler) == len(shares[-1]) == -(-n // replicas)
        everything = np.concatenate(shares)
        padding = len(everything) - n
        assert set(everything.tolist()) == set(range(n))  # each example somewhere
        assert padding < replicas or n < replicas  # only PyTorch's padding repeats
        counts = np.bincount(everything, minlength=n)
        assert counts.sum() == n + padding and (counts >= 1).all()


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (12, 4, False), (3, 5, False)])
def test_split_and_padding_equal_pytorch_without_shuffle(n, replicas, drop_last):
    dataset = list(range(n))
    for rank in range(replicas):
        ours = list(DistributedSampler(dataset, replicas, rank, shuffle=False, drop_last=drop_last))
        theirs = list(torch.utils.data.DistributedSampler(dataset, replicas, rank, shuffle=False,
                                                          drop_last=drop_last))
        assert ours == theirs


def test_drop_last_gives_disjoint_shares():
    shares = [set(DistributedSampler(range(10), 3, r, drop_last=True)) for r in range(3)]
    assert all(len(s) == 3 for s in shares)
    assert not (shares[0] & shares[1] or shares[1] & shares[2] or shares[0] & shares[2])


def test_shuffle_changes_with_the_epoch_and_repeats_with_the_seed():
    sampler = DistributedSampler(range(50), 2, 0, seed=1)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first
    sampler.set_epoch(0)
    assert list(sampler) == first == list(DistributedSampler(range(50), 2, 0, seed=1))


def test_loader_uses_the_sampler_and_its_epoch():
    images = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    dataset = st.data.ArrayDataset(images, np.arange(10))
    sampler = DistributedSampler(dataset, 2, 1, seed=3)
    loader = st.data.DataLoader(dataset, 2, sampler=sampler, prefetch=0)
    assert len(loader) == 3
    loader.set_epoch(5)
    seen = np.concatenate([y for _, y in loader])
    sampler.set_epoch(5)
    assert seen.tolist() == list(sampler)
    with pytest.raises(ValueError, match="sampler and shuffle=True are exclusive"):
        st.data.DataLoader(dataset, 2, shuffle=True, sampler=sampler)


def test_defaults_come_from_the_process_group_and_errors_are_clear():
    sampler = DistributedSampler(range(4))
    assert (sampler.rank, sampler.num_replicas) == (0, 1)
    with pytest.raises(ValueError, match="rank must be below num_replicas=2, got 2"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="DistributedSampler: num_replicas must be a positive integer, got 0"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(TypeError, match="expected a dataset with a length, got int"):
        DistributedSampler(5)
