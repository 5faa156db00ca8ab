"""Containers: modules made of modules, whose backward is derived from their children's.

``Sequential`` is a chain: forward runs the children in order, backward runs their backwards in
reverse, handing each one's input gradient to the one before. ``ModuleList`` and ``ModuleDict`` only
hold and register modules (PyTorch's names for their parameters); the module that owns them calls them.
"""

import numpy as np

from .inplace import chain_forward
from .module import Module

__all__ = ["ModuleDict", "ModuleList", "Sequential"]


class Sequential(Module):
    """A chain of modules: ``y = m_n(...m_2(m_1(x)))``.

    Backward applies the chain rule in reverse: ``g = m_1.backward(...m_n.backward(grad_out))``.
    Children are named ``0``, ``1``, ... (so parameters are ``0.weight``, as in PyTorch).
    """

    def __init__(self, *modules: Module):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "Sequential":
        if not isinstance(module, Module):
            raise ValueError(f"Sequential: expected a Module, got {type(module).__name__}")
        setattr(self, str(len(self._modules)), module)
        return self

    def get_config(self) -> dict:
        """How to rebuild this container (its children, in order): used by model files."""
        return {"modules": list(self._modules.values())}

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        return cls(*config["modules"])

    def forward(self, x):
        return chain_forward(self._modules.values(), x)  # a ReLU in place where only this chain holds x

    def backward(self, grad_out):
        for module in reversed(self._modules.values()):
            grad_out = self.pass_gradient(module.backward(grad_out))  # 16 bits under mixed precision
        return grad_out

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


def _check_module(owner: str, module) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}: expected a Module, got {type(module).__name__}")


class ModuleList(Module):
    """A list of modules, registered so that their parameters are the container's (``0.weight``, ``1.bias``, ...
    as in PyTorch). It has no forward of its own: the module that holds it decides how to call its items
    (and calls their backwards in reverse)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index: int) -> int:
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(index).__name__}")
        size = len(self._modules)
        if not -size <= index < size:
            raise IndexError(f"ModuleList index {index} is out of range for {size} modules")
        return int(index) % size

    def _renumber(self, modules: list) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, module in enumerate(modules):
            setattr(self, str(i), module)

    def append(self, module: Module) -> "ModuleList":
        _check_module("ModuleList", module)
        setattr(self, str(len(self._modules)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        _check_module("ModuleList", module)
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)

    def pop(self, index: int = -1) -> Module:
        modules = list(self._modules.values())
        module = modules.pop(self._index(index))
        self._renumber(modules)
        return module

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        _check_module("ModuleList", module)
        setattr(self, str(self._index(index)), module)

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        del modules[index if isinstance(index, slice) else self._index(index)]
        self._renumber(modules)

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def get_config(self) -> dict:
        """How to rebuild this container (its modules, in order): used by model files."""
        return {"modules": list(self._modules.values())}

    @classmethod
    def from_config(cls, config: dict) -> "ModuleList":
        return cls(config["modules"])


class ModuleDict(Module):
    """An ordered dict of modules by name, registered so that their parameters are the container's
    (``<name>.weight``, as in PyTorch). No forward of its own, as ModuleList."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {type(key).__name__}")
        if not key or "." in key or (key in self.__dict__ and key not in self._modules) or hasattr(type(self), key):
            raise KeyError(f"ModuleDict: {key!r} cannot name a module (empty, has a '.', or is an attribute name)")
        _check_module("ModuleDict", module)
        setattr(self, key, module)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __delitem__(self, key: str) -> None:
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        """Add (name, module) pairs from a mapping or an iterable of pairs, in their order."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def clear(self) -> None:
        for key in list(self._modules):
            del self[key]

    def get_config(self) -> dict:
        """How to rebuild this container (its modules by name, in order): used by model files."""
        return {"modules": dict(self._modules)}

    @classmethod
    def from_config(cls, config: dict) -> "ModuleDict":
        return cls(config["modules"])
