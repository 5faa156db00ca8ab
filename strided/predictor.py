"""A trained model ready for predictions: loaded once with its classes, input shape and preprocessing.

``strided predict`` and the HTTP service both use it, so they decode, preprocess and score images
the same way. ``predict_batch`` turns network inputs into class probabilities; ``explain`` also
returns what every conv and pooling layer produced, compactly, for the web page.

Images come from untrusted bytes in two steps, so a caller can bound memory in between:
``open_image_header`` reads only the header (format allowlist, pixel limit), ``Predictor.decode_image``
then decodes the pixels. A model file is refused at load, not at the first prediction, when it
cannot serve: no parameters, an output that is not one score per class, or fewer (or more) class
names than outputs.
"""

import base64
import hashlib
import io
import struct
import time
from pathlib import Path

import numpy as np

from . import io as st_io
from .data.preprocess import DEFAULT_MAX_PIXELS, ImageDecodeError, Preprocessing, eight_bit, pillow_for
from .functional.shapes import param_count
from .grad_mode import no_grad
from .nn.capture import capture_outputs

MAX_MAPS_PER_LAYER = 32
# The formats a client may send; anything else Pillow could open (PCX, SGI, TGA, DDS, QOI, ICO, EPS,
# which hands the file to Ghostscript) is refused: each decoder is attack surface.
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
SHOWN_LAYER_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
                     "FractionalMaxPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d")


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)  # exp of large logits would overflow
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def to_uint8_maps(maps: np.ndarray) -> dict:
    """(C, H, W) floats -> each channel scaled to 0..255 on its own, base64 bytes plus the shape."""
    low = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0.0)
    data = np.ascontiguousarray(np.round(scaled * 255).astype(np.uint8))
    return {"shape": list(data.shape), "data": base64.b64encode(data.tobytes()).decode("ascii")}


class UnsupportedImageFormat(ImageDecodeError):
    """An image Pillow recognises, in a format outside ``ACCEPTED_FORMATS`` (the service answers 415)."""


def load_model(path):
    """The one place that turns a model file into a model, for predict, evaluate, serve and summary."""
    return st_io.load_model(path)  # a strided model file, or an ONNX file by its suffix


def open_image_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, name: str = "image",
                      formats=ACCEPTED_FORMATS):
    """A Pillow image whose header only has been read: an accepted format, at most ``max_pixels``."""
    Image, UnidentifiedImageError = pillow_for(data, name)  # noqa: N806  (Pillow's names)
    try:
        image = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise _unaccepted_or_unknown(data, name, formats) from None
    except Image.DecompressionBombError:
        raise ImageDecodeError(f"{name}: image dimensions are more than the limit of {max_pixels} pixels "
                               "(a decompression bomb?)") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as error:
        raise ImageDecodeError(f"{name}: damaged or truncated image header ({error})") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageDecodeError(f"{name}: {width}x{height} pixels is more than the limit of {max_pixels}")
    if width == 0 or height == 0:
        raise ImageDecodeError(f"{name}: image has no pixels ({width}x{height})")
    return image


def _unaccepted_or_unknown(data: bytes, name: str, formats) -> ImageDecodeError:
    """Tell an image in another format (415) from bytes that are no image at all (400), by header."""
    from PIL import Image

    accepted = ", ".join(formats)
    try:
        with Image.open(io.BytesIO(data)) as other:  # header parsers only: no pixel is decoded
            kind = other.format
    except Exception:  # any parser's failure means the same: not an image
        return ImageDecodeError(f"{name}: not an image Pillow can decode ({accepted})")
    return UnsupportedImageFormat(f"{name}: {kind} images are not accepted; send {accepted}")


class Predictor:
    """A model file ready to serve. ``model`` is the model as trained (the explain views show its layers and
    run its backward); predictions run on ``inference_model``, its fused copy (``model.fuse()``: each batch
    norm folded into the convolution before it), or on ``model`` itself with ``fuse=False``."""

    def __init__(self, path, fuse: bool = True):
        started = time.perf_counter()
        self.path = Path(path)
        self.model = load_model(path)
        self.inference_model = self.model.fuse() if fuse else self.model
        self.load_seconds = time.perf_counter() - started
        meta = self.model.metadata
        pre = meta.get("preprocessing")
        shape = meta.get("input_shape")
        if pre is not None:
            self.preprocessing = Preprocessing.from_dict(pre)
        elif shape is not None:
            mode = "L" if shape[0] == 1 else "RGB"
            self.preprocessing = Preprocessing(mode, tuple(shape[1:]), (0.0,) * shape[0], (1.0,) * shape[0])
        else:
            raise st_io.ModelFileError(f"{path}: the model file records neither an input shape nor preprocessing")
        self.input_shape = tuple(shape) if shape is not None else self.preprocessing.input_shape
        first = next(iter(self.model.parameters()), None)
        if first is None:
            raise st_io.ModelFileError(f"{path}: the model has no parameters: nothing was trained")
        self.dtype = first.dtype
        try:
            probe = self.predict_batch(np.zeros((1, *self.input_shape), self.dtype))  # also warms the buffers up
        except (ValueError, TypeError, IndexError, MemoryError) as error:
            raise st_io.ModelFileError(f"{path}: the model cannot run on its input shape "
                                       f"{list(self.input_shape)}: {error}") from None
        if probe.ndim != 2:
            raise st_io.ModelFileError(f"{path}: the model answers shape {list(probe.shape[1:])} per input, "
                                       "expected one score per class")
        classes = meta.get("class_names") or [str(i) for i in range(probe.shape[1])]
        if len(classes) != probe.shape[1]:
            raise st_io.ModelFileError(f"{path}: {len(classes)} class names for {probe.shape[1]} outputs")
        self.class_names = list(classes)
        self.name = meta.get("name") or self.path.stem
        self.metrics = meta.get("metrics") or {}
        self.parameters = param_count(self.model)
        # The version identifies the exact weights served: the start of the file's SHA-256.
        self.version = hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]
        self.strided_version = st_io.writer_version(path)

    def decode_image(self, image, name: str = "image") -> np.ndarray:
        """A Pillow image from ``open_image_header`` -> the float32 (C, H, W) network input."""
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as error:
            raise ImageDecodeError(f"{name}: damaged or truncated {image.format or 'image'} data ({error})") from None
        pre = self.preprocessing
        return pre.normalize(pre.image_to_uint8(eight_bit(image)))

    def load_file(self, path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
        """An image file -> the network input, as the service decodes an upload."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            raise ImageDecodeError(f"{path}: cannot read ({error.strerror or error})") from None
        return self.decode_image(open_image_header(data, max_pixels, str(path)), str(path))

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        with no_grad():
            return softmax(self.inference_model(batch.astype(self.dtype, copy=False)).astype(np.float64))

    def explain(self, x: np.ndarray) -> dict:
        """Probabilities for one input, each shown layer's maps, and the first conv's filters."""
        with no_grad(), capture_outputs(self.model) as records:
            logits = self.model(x[None].astype(self.dtype, copy=False))
        layers, filters = [], None
        for record in records:
            kind = type(record.module).__name__
            if kind not in SHOWN_LAYER_TYPES or getattr(record.output, "ndim", 0) != 4:
                continue
            if kind == "Conv2d" and filters is None:
                filters = to_uint8_maps(record.module.weight.data.reshape(-1, *record.module.weight.shape[2:]))
                filters["shape"] = list(record.module.weight.shape)
            maps = record.output[0][:MAX_MAPS_PER_LAYER]
            layers.append({"name": record.name, "type": kind, "shape": list(record.output.shape[1:]),
                           "params": param_count(record.module), "maps": to_uint8_maps(maps)})
        return {"probabilities": softmax(logits.astype(np.float64))[0], "layers": layers, "filters": filters}

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "strided_version": self.strided_version,
                "classes": self.class_names,
                "input_shape": list(self.input_shape), "parameters": self.parameters,
                "preprocessing": self.preprocessing.to_dict(), "metrics": self.metrics,
                "load_seconds": round(self.load_seconds, 4)}
