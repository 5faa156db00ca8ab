"""A trained model ready for predictions: loaded once with its classes, input shape and preprocessing.

``strided predict`` and the HTTP service both use it, so they decode, preprocess and score images
the same way. ``predict_batch`` turns network inputs into class probabilities; ``explain`` also
returns what every conv and pooling layer produced, compactly, for the web page.
"""

import base64
import hashlib
import time
from pathlib import Path

import numpy as np

from . import io as st_io
from .data.preprocess import Preprocessing
from .functional.shapes import param_count
from .grad_mode import no_grad
from .nn.capture import capture_outputs

MAX_MAPS_PER_LAYER = 32
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


class Predictor:
    def __init__(self, path):
        started = time.perf_counter()
        self.path = Path(path)
        self.model = st_io.load(path)
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
        self.dtype = next(iter(self.model.parameters())).dtype
        probe = self.predict_batch(np.zeros((1, *self.input_shape), self.dtype))  # also warms the buffers up
        classes = meta.get("class_names") or [str(i) for i in range(probe.shape[1])]
        self.class_names = list(classes)
        self.name = meta.get("name") or self.path.stem
        self.metrics = meta.get("metrics") or {}
        self.parameters = param_count(self.model)
        # The version identifies the exact weights served: the start of the file's SHA-256.
        self.version = hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]
        self.strided_version = st_io.read_metadata(path)["version"]

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        with no_grad():
            return softmax(self.model(batch.astype(self.dtype, copy=False)).astype(np.float64))

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
