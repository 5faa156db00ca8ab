"""One definition of how an image becomes a network input, stored in the model file.

Training decides it (image mode, size, normalisation constants); ``strided predict`` and
``strided serve`` read it back from the model file, so training and serving cannot disagree:

    image file -> decode (Pillow) -> convert to mode L or RGB -> resize to (H, W), bilinear
               -> uint8 array (C, H, W) -> float32 in [0, 1] -> (x - mean) / std per channel
"""

import io
import struct
from dataclasses import asdict, dataclass

import numpy as np

# Larger than any real photo a small CNN is fed, small enough that a forged header claiming
# giant dimensions is refused before Pillow allocates the pixels (a "decompression bomb").
DEFAULT_MAX_PIXELS = 40_000_000


class ImageDecodeError(ValueError):
    """Bytes or a file that cannot be turned into an image (the message says why)."""


@dataclass(frozen=True)
class Preprocessing:
    mode: str = "L"
    size: tuple = (28, 28)
    mean: tuple = (0.0,)
    std: tuple = (1.0,)

    def __post_init__(self):
        if self.mode not in ("L", "RGB"):
            raise ValueError(f"preprocessing: mode must be 'L' or 'RGB', got {self.mode!r}")
        channels = self.channels
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"preprocessing: mode {self.mode} needs {channels} mean and std values, "
                             f"got {len(self.mean)} and {len(self.std)}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"preprocessing: std must be positive, got {list(self.std)}")

    @property
    def channels(self) -> int:
        return 1 if self.mode == "L" else 3

    @property
    def input_shape(self) -> tuple:
        return (self.channels, *self.size)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Preprocessing":
        try:
            return cls(mode=data["mode"], size=tuple(int(v) for v in data["size"]),
                       mean=tuple(float(v) for v in data["mean"]), std=tuple(float(v) for v in data["std"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"preprocessing: expected mode, size, mean and std, got {data!r}") from error

    def transform(self):
        """The same normalisation as a data transform, for training loaders: ToFloat then Normalize."""
        from . import transforms  # imported here: transforms is the larger module, and folder needs this one

        return transforms.Compose([transforms.ToFloat(), transforms.Normalize(self.mean, self.std)])

    def normalize(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, C, H, W) or (C, H, W) -> float32, scaled to [0, 1] and normalised."""
        return self.transform()(images)

    def image_to_uint8(self, image) -> np.ndarray:
        """A Pillow image -> uint8 (C, H, W) in this mode and size."""
        from PIL import Image

        image = image.convert(self.mode)
        height, width = self.size
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BILINEAR)
        array = np.asarray(image, dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)

    def decode(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image") -> np.ndarray:
        """Encoded image bytes (PNG, JPEG, BMP, GIF, WebP) -> the float32 (C, H, W) network input."""
        return self.normalize(self.image_to_uint8(open_image(data, max_pixels, name)))

    def load_file(self, path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        try:
            data = open(path, "rb").read()
        except OSError as error:
            raise ImageDecodeError(f"{path}: cannot read ({error.strerror or error})") from error
        return self.decode(data, max_pixels, name=str(path))


def pillow_for(data: bytes, name: str = "image"):
    """``(Image, UnidentifiedImageError)`` from Pillow, once ``data`` is known not to be empty (the checks every
    decoder makes first: Pillow installed, with the install hint; some bytes to decode)."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as error:
        raise ImportError("decoding images needs Pillow: pip install 'strided[images]'") from error
    if not data:
        raise ImageDecodeError(f"{name}: empty file")
    return Image, UnidentifiedImageError


def open_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image"):
    """Decode bytes into a fully loaded Pillow image, refusing empty, unknown, truncated or huge ones."""
    Image, UnidentifiedImageError = pillow_for(data, name)  # noqa: N806  (Pillow's names)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise ImageDecodeError(f"{name}: not an image Pillow can decode (PNG, JPEG, BMP, GIF, WebP)") from error
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:  # Pillow's header parsers
        raise ImageDecodeError(f"{name}: damaged or truncated image header ({error})") from error
    except Image.DecompressionBombError as error:
        raise ImageDecodeError(f"{name}: image dimensions are more than the limit of {max_pixels} pixels "
                               "(a decompression bomb?)") from error
    width, height = image.size
    if width * height > max_pixels:  # checked on the header, before any pixel is decoded
        raise ImageDecodeError(f"{name}: {width}x{height} pixels is more than the limit of {max_pixels}")
    if width == 0 or height == 0:
        raise ImageDecodeError(f"{name}: image has no pixels ({width}x{height})")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageDecodeError(f"{name}: damaged or truncated {image.format or 'image'} data ({error})") from error
    return eight_bit(image)


SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def eight_bit(image):
    """16-bit greyscale (PNG, TIFF) to 8 bits by the high byte, libpng's strip_16: 257 * k -> k exactly.

    Pillow's own convert('L') clamps instead, which turns every value over 255 into white. Training
    (ImageFolder), predict and serve all decode through here, so they see the same pixels.
    """
    from PIL import Image

    if image.mode not in SIXTEEN_BIT_MODES:
        return image
    high = (np.asarray(image).astype(np.uint16, copy=False) >> 8).astype(np.uint8)
    return Image.fromarray(high, mode="L")
