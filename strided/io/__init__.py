"""Files: model files (safetensors + JSON architecture spec) and atomic writes."""

from .any_model import load_model, writer_version
from .atomic import atomic_write_bytes
from .checkpoint import load_checkpoint, save_checkpoint
from .model_file import ModelFileError, load, read_metadata, save
from .spec import SpecError, module_from_spec, module_to_spec

__all__ = [
    "ModelFileError", "SpecError", "atomic_write_bytes", "load", "load_checkpoint", "load_model", "module_from_spec",
    "module_to_spec", "read_metadata", "save", "save_checkpoint", "writer_version",
]
