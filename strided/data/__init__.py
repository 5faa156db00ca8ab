"""strided.data: datasets, image transforms and a prefetching loader.

    from strided import data
    train = data.FashionMNIST(train=True)                  # IDX files: found on disk, or download=True
    aug = data.transforms.Compose([data.transforms.RandomCrop(28, padding=2),
                                   data.transforms.RandomHorizontalFlip()])
    for images, labels in data.DataLoader(train, 128, shuffle=True, transform=aug, seed=0):
        ...                                                # float32 (128, 1, 28, 28), int64 (128,)

See docs/data.md for the full tour.
"""

from . import transforms
from .cifar import CIFAR10, read_cifar_batch
from .dataset import ArrayDataset, Dataset, DatasetError, Subset, dataset_labels, fetch_batch
from .download import DownloadError, cache_dir, check_integrity, download_url
from .folder import IMG_EXTENSIONS, ImageFolder
from .idx import read_idx, write_idx
from .loader import DataLoader
from .mnist import KMNIST, MNIST, FashionMNIST
from .multiscale import MultiScaleResize
from .sample import MNISTSample, load_sample
from .split import random_split, stratified_split
from .stats import compute_mean_std

__all__ = [
    "CIFAR10", "IMG_EXTENSIONS", "KMNIST", "MNIST", "ArrayDataset", "DataLoader", "Dataset", "DatasetError",
    "DownloadError", "FashionMNIST", "ImageFolder", "MNISTSample", "Subset", "cache_dir", "check_integrity",
    "compute_mean_std", "dataset_labels", "download_url", "fetch_batch", "load_sample", "random_split",
    "read_cifar_batch", "read_idx", "stratified_split", "transforms", "write_idx",
]
__all__ += ["MultiScaleResize"]

from .sampler import DistributedSampler  # noqa: E402  (appended: scale-out, issue 14)

__all__ += ["DistributedSampler"]
