"""Splitting a dataset: random_split (torch.utils.data's) and stratified_split (same class balance in each part).

``lengths`` are counts summing to len(dataset), or fractions summing to 1. Randomness comes from
``np.random.default_rng(seed)`` when ``seed`` is given, else from strided's generator.
"""

import math
import numbers

import numpy as np

from .. import rng as strided_rng
from .dataset import Subset, dataset_labels

FRACTION_TOLERANCE = 1e-6


def _generator(seed):
    return np.random.default_rng(seed) if seed is not None else strided_rng.get_generator()


def _is_fractions(lengths) -> bool:
    return (all(isinstance(f, numbers.Real) and 0 <= f <= 1 for f in lengths)
            and abs(sum(lengths) - 1) <= FRACTION_TOLERANCE
            and not all(isinstance(f, numbers.Integral) for f in lengths))


def split_counts(n: int, lengths, who: str = "random_split") -> list:
    """Counts for ``n`` samples: as given, or floor(n·f) with the remainder handed out round-robin (as torch)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError(f"{who}: expected at least one length")
    if all(isinstance(c, numbers.Integral) and c >= 0 for c in lengths):
        if sum(lengths) != n:
            raise ValueError(f"{who}: lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} samples")
        return [int(c) for c in lengths]
    if not _is_fractions(lengths):
        raise ValueError(f"{who}: lengths must be counts summing to {n} or fractions summing to 1, got {lengths}")
    counts = [math.floor(n * f) for f in lengths]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset, lengths, seed=None) -> list:
    """Non-overlapping random Subsets of the given lengths (counts, or fractions summing to 1)."""
    counts = split_counts(len(dataset), lengths)
    order = _generator(seed).permutation(len(dataset))
    ends = np.cumsum(counts)
    return [Subset(dataset, order[end - count:end]) for count, end in zip(counts, ends, strict=True)]


def _largest_remainder(n: int, fractions) -> np.ndarray:
    """floor(n·f), plus one for the largest fractional parts until the counts sum to n."""
    exact = n * np.asarray(fractions, dtype=np.float64)
    counts = np.floor(exact + FRACTION_TOLERANCE).astype(np.int64)
    short = n - counts.sum()
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    return counts


def stratified_split(dataset, fractions, seed=None) -> list:
    """Subsets with the given fractions (summing to 1) of every class, e.g. ``[0.9, 0.1]`` for train/validation.

    Each class is shuffled and cut by the fractions (largest-remainder rounding), so every part keeps
    the class balance of the whole.
    """
    fractions = list(fractions)
    if not _is_fractions(fractions):
        raise ValueError(f"stratified_split: expected fractions summing to 1, got {fractions}")
    labels = dataset_labels(dataset)
    order = _generator(seed).permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # grouped by class, shuffled within each class
    parts = [[] for _ in fractions]
    start = 0
    for count in np.bincount(labels):
        members = order[start:start + count]
        start += count
        cuts = np.cumsum(_largest_remainder(int(count), fractions))[:-1]
        for part, piece in zip(parts, np.split(members, cuts), strict=True):
            part.append(piece)
    return [Subset(dataset, np.sort(np.concatenate(part)) if part else np.zeros(0, np.int64)) for part in parts]
