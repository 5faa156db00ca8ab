"""Architecture specs: a JSON description from which a model is rebuilt without any user code.

Three kinds of module can be described:
- a model made by a builder in strided.models (it carries ``model.builder``): the builder's name
  and its arguments, e.g. ``{"builder": "resnet_cifar", "kwargs": {"depth": 20, ...}}``;
- a container that defines ``get_config()`` / ``from_config()`` (Sequential, Graph): its class
  name and that config, with child modules described recursively;
- any other strided.nn layer: its class name and the constructor arguments it was called with
  (remembered by ``Module.__new__``).

JSON has no tuples, so tuples are written as lists and every list is read back as a tuple: the
constructors accept either. A module that is not part of strided (a user's own class) cannot be
described, and saying so clearly is better than writing a file that cannot be loaded.
"""

import contextlib

import numpy as np

from .. import nn
from ..models.registry import MODEL_BUILDERS
from ..nn import init
from ..nn.module import Module

MODULE_KEY = "__module__"
MAX_SPEC_DEPTH = 256  # JSON levels; a real spec nests a few dozen, Python's recursion limit is 1000


class SpecError(ValueError):
    """A model that cannot be described, or a description that cannot be rebuilt."""


def module_to_spec(module: Module) -> dict:
    """The JSON-ready description of ``module``'s architecture (weights are stored separately)."""
    builder = getattr(module, "builder", None)
    if builder is not None:
        return {"builder": builder["name"], "kwargs": _encode(builder["kwargs"])}
    cls = type(module)
    if _layer_class(cls.__name__) is not cls:
        raise SpecError(
            f"cannot describe {cls.__module__}.{cls.__name__} in a model file: only strided.nn layers, "
            "containers of them and strided.models builders can be rebuilt without user code"
        )
    if hasattr(module, "get_config"):
        return {"class": cls.__name__, "config": _encode(module.get_config())}
    args, kwargs = module._init_args
    return {"class": cls.__name__, "args": _encode(list(args)), "kwargs": _encode(kwargs)}


def module_from_spec(spec: dict, initialise: bool = True) -> Module:
    """Rebuild the module a spec describes (freshly initialised: load the weights afterwards).

    ``initialise=False`` skips the random initial values (in this thread only): the weights are
    then ``np.zeros`` that the OS maps lazily, so a spec that claims a huge layer costs no memory
    until its shapes have been compared with the file's (``Linear(8000, 8000)``: 977 MiB and 1.5-4.7 s
    of float64 draws before, a few MiB and milliseconds without). Any failure to build, whatever
    the builder raised, is a SpecError.
    """
    depth = _depth(spec)
    if depth > MAX_SPEC_DEPTH:
        raise SpecError(f"architecture spec nests more than {MAX_SPEC_DEPTH} levels deep")
    try:
        with contextlib.nullcontext() if initialise else init.skip_init():
            return _build(spec)
    except SpecError:
        raise
    except MemoryError:
        raise SpecError("architecture spec: the model it describes does not fit in memory") from None
    except RecursionError:
        raise SpecError("architecture spec: nested too deeply to build") from None
    except Exception as error:  # a builder's own TypeError, StopIteration, ...: the spec is wrong, not the code
        raise SpecError(f"architecture spec: cannot build it ({type(error).__name__}: {error})") from error


def _build(spec: dict) -> Module:
    if not isinstance(spec, dict):
        raise SpecError(f"architecture spec: expected an object, got {type(spec).__name__}")
    if "builder" in spec:
        name = spec["builder"]
        if name not in MODEL_BUILDERS:
            raise SpecError(f"architecture spec names an unknown model builder {name!r}")
        kwargs = _decode(spec.get("kwargs", {}))
        if not isinstance(kwargs, dict):
            raise SpecError(f"architecture spec: the kwargs of builder {name!r} must be an object")
        return MODEL_BUILDERS[name](**kwargs)
    name = spec.get("class")
    cls = _layer_class(name) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise SpecError(f"architecture spec names an unknown layer {name!r}")
    if cls is Module:
        raise SpecError("architecture spec names the bare Module base class, which holds no layers")
    args, kwargs = _decode(spec.get("args", [])), _decode(spec.get("kwargs", {}))
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise SpecError(f"architecture spec: {name} needs args as a list and kwargs as an object")
    try:
        if "config" in spec:
            return cls.from_config(_decode(spec["config"]))
        return cls(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise SpecError(f"architecture spec: cannot build {name}: {error}") from error


def _layer_class(name: str):
    """A layer class by name: strided.nn's, then the layers ONNX imports build (strided.onnx.layers, NumPy only)."""
    if hasattr(nn, name):
        return getattr(nn, name)
    from ..onnx import layers as onnx_layers

    return getattr(onnx_layers, name, None) if name in onnx_layers.__all__ else None


def _depth(value, level: int = 0) -> int:
    """How deeply lists and objects nest in a decoded JSON value (iteratively: no recursion limit)."""
    deepest, stack = level, [(value, level)]
    while stack:
        item, at = stack.pop()
        deepest = max(deepest, at)
        if deepest > MAX_SPEC_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, at + 1) for child in children)
    return deepest


def _encode(value):
    if isinstance(value, Module):
        return {MODULE_KEY: module_to_spec(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise SpecError(f"cannot store a constructor argument of type {type(value).__name__} in a model file")


def _decode(value):
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    if isinstance(value, dict):
        if MODULE_KEY in value:
            return module_from_spec(value[MODULE_KEY])
        return {k: _decode(v) for k, v in value.items()}
    return value
