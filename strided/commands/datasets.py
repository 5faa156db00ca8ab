"""Datasets by the names the command line uses: sample, mnist, fashion-mnist, kmnist, cifar10, or a folder."""

from pathlib import Path

BUILT_IN = ("sample", "mnist", "fashion-mnist", "kmnist", "cifar10")


def open_dataset(name: str, data_dir=None, train: bool = True, mode: str | None = None, size=None,
                 download: bool = False):
    """The dataset called ``name`` (its training or test split), and whether it has a separate test split.

    ``mode`` and ``size`` apply to image folders (the built-in datasets have fixed ones); ``download``
    fetches a standard dataset that is not on disk yet.
    """
    from .. import data

    if name == "sample":
        return data.load_sample(train=train), True
    classes = {"mnist": data.MNIST, "fashion-mnist": data.FashionMNIST, "kmnist": data.KMNIST,
               "cifar10": data.CIFAR10}
    if name in classes:
        try:
            return classes[name](root=data_dir, train=train, download=download), True
        except (OSError, ValueError) as error:  # the library's advice names its argument; give the flag's
            if "download=True" not in str(error):
                raise
            raise type(error)(str(error).replace("pass download=True", "pass --download")) from None
    folder = Path(name).expanduser()
    if folder.is_dir():
        return data.ImageFolder(folder, mode=mode or "RGB", size=size or (32, 32), on_error="skip"), False
    raise ValueError(f"unknown dataset {name!r}: expected one of {', '.join(BUILT_IN)} or a folder of class "
                     "sub-folders of images")
