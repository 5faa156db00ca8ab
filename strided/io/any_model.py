"""One loader for every model file the tools take: a strided model file (.safetensors) or an ONNX file (.onnx).

``strided predict``, ``evaluate`` and ``serve`` (through strided.predictor) call ``load_model``, so an
ONNX file from strided or from elsewhere runs on strided's own kernels wherever a model file does.
"""

from pathlib import Path

from .model_file import load, read_metadata

ONNX_SUFFIX = ".onnx"


def load_model(path):
    """The model in ``path`` in eval mode, with ``model.metadata``; chosen by suffix (.onnx, else a model file)."""
    if Path(path).suffix.lower() == ONNX_SUFFIX:
        from ..onnx import load as load_onnx

        return load_onnx(path)
    return load(path)


def writer_version(path) -> str:
    """Which software wrote the file: the strided version, or an ONNX file's producer ('pytorch 2.13.0')."""
    if Path(path).suffix.lower() != ONNX_SUFFIX:
        return read_metadata(path)["version"]
    from ..onnx.errors import require_onnx

    proto = require_onnx().load(str(path), load_external_data=False)
    if proto.producer_name == "strided":
        return proto.producer_version
    return f"{proto.producer_name or 'unknown'} {proto.producer_version}".strip()
