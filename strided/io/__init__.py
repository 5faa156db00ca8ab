"""Files: model files (safetensors + JSON architecture spec) and atomic writes."""

from .atomic import atomic_write_bytes
from .checkpoint import load_checkpoint, save_checkpoint
from .model_file import ModelFileError, load, read_metadata, save
from .spec import SpecError, module_from_spec, module_to_spec

__all__ = [
    "ModelFileError", "SpecError", "atomic_write_bytes", "load", "load_checkpoint", "module_from_spec",
    "module_to_spec", "read_metadata", "save", "save_checkpoint",
]
