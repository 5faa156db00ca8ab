"""Checkpoints: everything needed to resume training exactly where it stopped.

A checkpoint is a nested structure of dicts, lists, numbers, strings and arrays: the model's
state dict, the optimizer's and the scheduler's, the epoch and step, the random generators'
states and the history so far. It is written as one safetensors file: every array becomes a
tensor (named by its path in the structure, e.g. ``/optimizer/state/3/exp_avg``) and the rest of
the structure is JSON in the metadata, with each array replaced by a reference to its tensor.
No pickle, so a checkpoint from elsewhere cannot run code; and the write is atomic, so a run
killed at any moment leaves the previous checkpoint intact.
"""

import json
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes
from .model_file import ModelFileError, _safetensors, read_safetensors

FORMAT = "strided-checkpoint"
ARRAY_KEY = "__array__"


def save_checkpoint(path, state: dict) -> Path:
    """Write the nested ``state`` to ``path`` atomically."""
    tensors = {}
    structure = _flatten(state, "", tensors)
    metadata = {"format": FORMAT, "structure": json.dumps(structure)}
    return atomic_write_bytes(path, _safetensors().numpy.save(tensors, metadata=metadata))


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; a clear error for anything else."""
    metadata, tensors = read_safetensors(path, "checkpoint", "checkpoint")
    if metadata.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a strided checkpoint")
    try:
        return _unflatten(json.loads(metadata["structure"]), tensors)
    except (KeyError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path}: damaged checkpoint structure ({error})") from error


def _flatten(value, path: str, tensors: dict):
    """Replace arrays by references, collecting them in ``tensors``; keep the rest as JSON."""
    if isinstance(value, np.ndarray):
        tensors[path] = np.require(value, requirements="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        return {ARRAY_KEY: path}
    if isinstance(value, dict):
        return {"dict": [[_key(k), _flatten(v, f"{path}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        items = [_flatten(v, f"{path}/{i}", tensors) for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"checkpoint: cannot store a value of type {type(value).__name__} at '{path or '/'}'")


def _key(key):
    # Dict keys keep their type (optimizer state is keyed by int), so store them as JSON values.
    if not isinstance(key, (str, int)):
        raise TypeError(f"checkpoint: dict keys must be str or int, got {type(key).__name__}")
    return key


def _unflatten(value, tensors: dict):
    if isinstance(value, dict):
        if ARRAY_KEY in value:
            return tensors[value[ARRAY_KEY]]
        if "tuple" in value:
            return tuple(_unflatten(v, tensors) for v in value["tuple"])
        return {k: _unflatten(v, tensors) for k, v in value["dict"]}
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    return value
