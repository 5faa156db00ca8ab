"""ImageFolder: your own photos, one sub-folder per class (torchvision's convention).

    root/cat/001.jpg, root/cat/002.png, ..., root/dog/xyz.webp  ->  classes ['cat', 'dog']

Images are decoded with Pillow (PNG, JPEG, BMP, GIF, WebP) by strided.data.preprocess.open_image (the
decoder ``strided serve`` uses: empty, truncated or oversized files are refused), converted to
``mode`` ('L' or 'RGB'; None keeps each file's own, which must then be L or RGB and the same for
all) and resized to ``size`` (h, w) with Pillow's bilinear filter, as strided.data.preprocess does.

By default every image is decoded once, up front (in parallel threads), into one uint8 array
(N, C, H, W): batches are then array slices. ``lazy=True`` keeps only the paths and decodes each
batch when the loader asks for it (for folders too big for memory; the loader's threads overlap the
decoding with training). A file that cannot be decoded is named in the error; with
``on_error='skip'`` it is left out instead, counted in ``skipped``, and reported in one warning.
In lazy mode that check reads each file's header at construction; a file damaged past its header
still raises, naming itself, when read.
"""

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .dataset import Dataset, DatasetError, _check_indices
from .preprocess import DEFAULT_MAX_PIXELS, ImageDecodeError, open_image
from .transforms.base import apply_transform, pair

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
MODES = ("L", "RGB")
DECODE_THREADS = min(8, os.cpu_count() or 1)


def _pillow():
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError("ImageFolder decodes images with Pillow: pip install 'strided[images]'") from error
    return Image


class ImageFolder(Dataset):
    """A folder of class sub-folders of images; see the module docstring."""

    def __init__(self, root, transform=None, extensions=IMG_EXTENSIONS, mode: str | None = "RGB", size=None,
                 on_error: str = "raise", lazy: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"ImageFolder: {self.root} is not a folder")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"ImageFolder: on_error must be 'raise' or 'skip', got {on_error!r}")
        if mode is not None and mode not in MODES:
            raise ValueError(f"ImageFolder: mode must be 'L', 'RGB' or None, got {mode!r}")
        _pillow()
        self.transform, self.mode, self.lazy, self.max_pixels = transform, mode, lazy, max_pixels
        self.size = pair(self, size, "size") if size is not None else None
        self.extensions = tuple(e.lower() for e in extensions)
        self.classes = sorted(d.name for d in self.root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not self.classes:
            raise DatasetError(f"ImageFolder: {self.root} has no class sub-folders (expected one folder per class, "
                               "each holding that class's images)")
        paths, labels = self._scan()
        results = self._inspect_all(paths) if lazy else self._decode_all(paths)
        self.skipped = []
        keep = []
        for k, (path, result) in enumerate(zip(paths, results, strict=True)):
            if isinstance(result, ImageDecodeError):
                if on_error == "raise":
                    raise result
                self.skipped.append((path, str(result)))
            else:
                keep.append(k)
        if self.skipped:
            warnings.warn(f"ImageFolder: skipped {len(self.skipped)} file(s) that could not be decoded; first: "
                          f"{self.skipped[0][1]}", stacklevel=2)
        self.paths = [paths[k] for k in keep]
        self.labels = np.asarray([labels[k] for k in keep], dtype=np.int64)
        empty = [c for i, c in enumerate(self.classes) if not np.any(self.labels == i)]
        if empty:
            raise DatasetError(f"ImageFolder: no decodable images left in {self.root / empty[0]}")
        self.image_shape = self._common_shape([results[k] for k in keep], self.paths)
        self.images = None if lazy else np.stack([results[k] for k in keep])

    def _scan(self):
        paths, labels = [], []
        for index, name in enumerate(self.classes):
            files = sorted(p for p in (self.root / name).rglob("*")
                           if p.suffix.lower() in self.extensions and p.is_file())
            if not files:
                raise DatasetError(f"ImageFolder: {self.root / name} is an empty class folder (no files ending in "
                                   f"{', '.join(self.extensions)}); add images or remove the folder")
            paths += files
            labels += [index] * len(files)
        return paths, labels

    def _to_array(self, image, path) -> np.ndarray:
        mode = self.mode or image.mode
        if mode not in MODES:
            raise DatasetError(f"{path}: image mode {image.mode}, expected L or RGB; pass mode='L' or mode='RGB' "
                               "to convert every image")
        if image.mode != mode:
            image = image.convert(mode)
        if self.size is not None and image.size != self.size[::-1]:
            image = image.resize(self.size[::-1], _pillow().Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)

    def _decode(self, path) -> np.ndarray:
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ImageDecodeError(f"{path}: cannot read ({error.strerror or error})") from error
        return self._to_array(open_image(data, self.max_pixels, name=str(path)), path)

    def _try(self, function, path):
        try:
            return function(path)
        except ImageDecodeError as error:
            return error

    def _decode_all(self, paths):
        with ThreadPoolExecutor(DECODE_THREADS) as pool:
            return list(pool.map(lambda p: self._try(self._decode, p), paths))

    def _header(self, path):
        """(channels, height, width) from the file's header, checked with Pillow's verify (no pixel decoding)."""
        image_module = _pillow()
        try:
            with image_module.open(path) as image:
                mode, (width, height) = image.mode, image.size
                image.verify()
        except (OSError, SyntaxError, ValueError, image_module.DecompressionBombError) as error:
            raise ImageDecodeError(f"{path}: not a decodable image ({error})") from error
        if self.mode is None and mode not in MODES:
            raise DatasetError(f"{path}: image mode {mode}, expected L or RGB; pass mode='L' or mode='RGB'")
        height, width = self.size if self.size is not None else (height, width)
        return np.empty((1 if (self.mode or mode) == "L" else 3, height, width), np.uint8)

    def _inspect_all(self, paths):
        with ThreadPoolExecutor(DECODE_THREADS) as pool:
            return list(pool.map(lambda p: self._try(self._header, p), paths))

    @staticmethod
    def _common_shape(arrays, paths) -> tuple:
        for array, path in zip(arrays, paths, strict=True):
            if array.shape != arrays[0].shape:
                raise DatasetError(f"ImageFolder: {path} gives an image of shape {array.shape} but {paths[0]} gives "
                                   f"{arrays[0].shape}; pass size=(H, W) (and mode) so that all images match")
        return arrays[0].shape

    def __len__(self) -> int:
        return len(self.paths)

    def get_batch(self, indices, rng=None):
        indices = _check_indices(self, indices)
        if self.images is not None:
            images = self.images[indices]
        else:
            paths = [self.paths[0]] + [self.paths[i] for i in indices]
            decoded = [self._decode(p) for p in paths[1:]]
            self._common_shape([np.empty(self.image_shape)] + decoded, paths)
            images = np.stack(decoded) if decoded else np.zeros((0,) + self.image_shape, np.uint8)
        return apply_transform(self.transform, images, rng), self.labels[indices]

    @property
    def targets(self) -> np.ndarray:
        return self.labels

    @property
    def samples(self) -> list:
        return [(str(p), int(c)) for p, c in zip(self.paths, self.labels, strict=True)]

    @property
    def class_to_idx(self) -> dict:
        return {name: i for i, name in enumerate(self.classes)}

    def label(self) -> str:
        return f"ImageFolder({self.root})"

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.image_shape)
        return (f"ImageFolder({self.root}, {len(self)} images of {shape}, {len(self.classes)} classes"
                f"{', lazy' if self.lazy else ''}{f', {len(self.skipped)} skipped' if self.skipped else ''})")
