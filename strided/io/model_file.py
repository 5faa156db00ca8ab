"""Model files: one ``.safetensors`` file holding a trained model and all it needs to be used.

The tensors are the model's state dict (weights and buffers). The file's metadata (string
key -> string value, as safetensors allows) holds, as JSON:

- ``strided.spec``: the architecture (see spec.py), so ``load`` rebuilds the model without code;
- ``strided.meta``: what training knew: class names, input shape (C, H, W), the preprocessing
  (image mode, size, normalisation mean and std), a name and a metrics summary;
- ``strided.version``: the version of strided that wrote it.

Nothing is ever unpickled: safetensors reads a JSON header and raw arrays. A file that is not a
strided model, is truncated, or whose tensors do not fit the architecture is refused with an
error that names the file and the problem.
"""

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .spec import SpecError, module_from_spec, module_to_spec

FORMAT = "strided-model"
META_KEYS = ("name", "class_names", "input_shape", "preprocessing", "metrics")
SAFETENSORS_KINDS = {"F16": "f", "BF16": "f", "F32": "f", "F64": "f", "BOOL": "b", "I8": "i", "I16": "i",
                     "I32": "i", "I64": "i", "U8": "u", "U16": "u", "U32": "u", "U64": "u"}


class ModelFileError(ValueError):
    """A file that cannot be read as a strided model."""


def _safetensors():
    try:
        import safetensors.numpy
    except ImportError as error:  # an optional extra: say how to get it
        raise ImportError("model files need safetensors: pip install 'strided[train]'") from error
    return safetensors


def save(model, path, **metadata) -> Path:
    """Write ``model`` to ``path`` (atomically). Keyword arguments (class_names, input_shape,
    preprocessing, name, metrics) override those in ``model.metadata``."""
    from .. import __version__

    safetensors = _safetensors()
    meta = {**getattr(model, "metadata", {}), **metadata}
    unknown = sorted(set(meta) - set(META_KEYS))
    if unknown:
        raise ValueError(f"save: unknown metadata {unknown}; expected some of {list(META_KEYS)}")
    header = {
        "format": FORMAT,
        "strided.version": __version__,
        "strided.spec": json.dumps(module_to_spec(model)),
        "strided.meta": json.dumps(meta),
    }
    # np.require keeps 0-d buffers 0-d (np.ascontiguousarray would make them 1-d).
    tensors = {name: np.require(array, requirements="C") for name, array in model.state_dict().items()}
    return atomic_write_bytes(path, safetensors.numpy.save(tensors, metadata=header))


def read_metadata(path) -> dict:
    """The metadata of a model file (spec, meta, version) without building the model."""
    header, _ = _read(path, with_tensors=False)
    return header


def load(path):
    """Rebuild the model stored in ``path``, load its weights, and attach ``model.metadata``.

    The model comes back in eval mode, ready for inference. Nothing is allocated for the weights
    before the architecture has been checked against the file's tensor headers (names, shapes,
    dtypes), so a file costs at most its own size plus the model it truly holds; tensors that are
    not finite, or integers where the model has floating-point weights, are refused.
    """
    header, headers = _read(path, with_tensors=False)
    try:
        model = module_from_spec(header["spec"], initialise=False)
    except SpecError as error:
        raise ModelFileError(f"{path}: {error}") from error
    expected = model.state_dict()
    _check_tensor_headers(path, expected, headers)
    _, tensors = read_safetensors(path, "model file", "safetensors file")
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ModelFileError(f"{path}: tensor '{name}' holds NaN or infinite values")
    dtypes = {array.dtype for name, array in tensors.items() if np.issubdtype(array.dtype, np.floating)}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    try:
        model.load_state_dict(tensors, strict=True)
    except (KeyError, ValueError) as error:
        raise ModelFileError(f"{path}: the weights do not fit the architecture: {error}") from error
    object.__setattr__(model, "metadata", header["meta"])
    return model.eval()


def _check_tensor_headers(path, expected: dict, headers: dict) -> None:
    """The file's tensors must be exactly the model's state dict: same names, shapes and kinds of dtype."""
    missing = [name for name in expected if name not in headers]
    unexpected = [name for name in headers if name not in expected]
    if missing or unexpected:
        raise ModelFileError(f"{path}: the weights do not fit the architecture: missing tensors {missing[:8]}, "
                             f"unexpected tensors {unexpected[:8]}")
    for name, array in expected.items():
        shape, dtype = headers[name]
        if tuple(shape) != np.shape(array):
            raise ModelFileError(f"{path}: the weights do not fit the architecture: '{name}' expects shape "
                                 f"{np.shape(array)}, got {tuple(shape)}")
        kind = SAFETENSORS_KINDS.get(dtype, "?")
        wanted = np.asarray(array).dtype.kind
        if kind != wanted and {kind, wanted} != {"i", "u"}:
            what = "a floating-point" if wanted == "f" else "an integer" if wanted in "iu" else f"a {wanted}"
            raise ModelFileError(f"{path}: tensor '{name}' is stored as {dtype}, the architecture expects "
                                 f"{what} tensor")


def read_safetensors(path, missing: str, unreadable: str, with_tensors: bool = True):
    """(metadata, tensors) of a safetensors file; ModelFileError naming the file otherwise.

    Without ``with_tensors`` the tensors are only described: name -> (shape, dtype name).

    Model files and checkpoints share this: ``missing`` and ``unreadable`` name what was expected.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such {missing}")
    safetensors = _safetensors()
    try:
        with safetensors.safe_open(str(path), framework="numpy") as reader:
            metadata = reader.metadata() or {}
            if with_tensors:
                tensors = {name: reader.get_tensor(name) for name in reader.keys()}
            else:  # only the header: (shape, dtype) of each tensor, nothing read or allocated
                tensors = {name: (reader.get_slice(name).get_shape(), reader.get_slice(name).get_dtype())
                           for name in reader.keys()}
    except Exception as error:  # safetensors raises its own error types for bad headers and sizes
        raise ModelFileError(f"{path}: not a readable {unreadable} ({error})") from error
    return metadata, tensors


def _read(path, with_tensors: bool):
    raw, tensors = read_safetensors(path, "model file", "safetensors file", with_tensors)
    if raw.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a strided model file (no '{FORMAT}' marker in its metadata); a PyTorch "
                             "state dict loads into the matching builder: model.load_state_dict(...) (docs/onnx.md)")
    try:
        header = {
            "version": raw["strided.version"],
            "spec": json.loads(raw["strided.spec"]),
            "meta": json.loads(raw["strided.meta"]),
        }
    except (KeyError, json.JSONDecodeError, RecursionError) as error:
        raise ModelFileError(f"{path}: damaged strided metadata ({type(error).__name__}: {error})") from None
    if not isinstance(header["spec"], dict) or not isinstance(header["meta"], dict):
        raise ModelFileError(f"{path}: damaged strided metadata (spec and meta must be JSON objects)")
    _check_meta(path, header["meta"])
    return header, tensors


def _check_meta(path, meta: dict) -> None:
    names, shape = meta.get("class_names"), meta.get("input_shape")
    if names is not None and not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise ModelFileError(f"{path}: class_names must be a non-empty list of strings, got {str(names)[:80]}")
    if shape is not None and not (isinstance(shape, list) and len(shape) == 3
                                  and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)):
        raise ModelFileError(f"{path}: input_shape must be three positive integers [C, H, W], got {str(shape)[:80]}")
    for key in ("preprocessing", "metrics"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise ModelFileError(f"{path}: {key} must be a JSON object, got {type(meta[key]).__name__}")
