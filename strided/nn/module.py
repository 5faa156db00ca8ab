"""Module and Parameter: the base of every layer, block and model.

A Module turns an input array into an output array (``forward``) and, given the gradient of the
loss with respect to that output, returns the gradient with respect to its input (``backward``),
adding the gradients of its own parameters into ``Parameter.grad`` on the way. There is no
autograd tape: each layer writes its backward by hand, next to its forward, and keeps only what
that backward needs (``save_for_backward``). Containers derive their backward from their children.

Names follow PyTorch so that habits and state dicts carry over: ``named_parameters()`` gives
``weight``, ``0.weight``, ``conv1.weight``; ``state_dict()`` holds parameters and buffers.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np

from ..functional.storage import storage_dtype, stored_gradient
from ..grad_mode import is_grad_enabled, no_grad
from .hooks import ModuleHooks


class Parameter:
    """A trainable array. ``data`` holds its values; ``grad`` the accumulated gradient.

    ``grad`` is None until a backward adds to it; ``Module.zero_grad()`` sets it back to None.
    ``requires_grad=False`` freezes it: backward adds nothing to ``grad`` and optimizers leave it alone
    (the one place each is enforced: ``accumulate_grad`` here and ``Optimizer.step``).
    """

    __slots__ = ("data", "grad", "requires_grad")

    def __init__(self, data, requires_grad: bool = True):
        self.data = np.asarray(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)

    def requires_grad_(self, requires_grad: bool = True) -> "Parameter":
        """Freeze (False) or unfreeze (True) this parameter, in place; returns it (PyTorch's Tensor.requires_grad_)."""
        self.requires_grad = bool(requires_grad)
        return self

    def accumulate_grad(self, grad: np.ndarray) -> None:
        """Add ``grad`` to ``self.grad`` (PyTorch accumulates; it does not overwrite); nothing if frozen."""
        if not self.requires_grad:
            return
        if grad.shape != self.data.shape:
            raise ValueError(f"Parameter of shape {self.data.shape}: got a gradient of shape {grad.shape}")
        if self.grad is None:
            # A copy, because kernels may hand out views of buffers they reuse on the next call.
            self.grad = np.array(grad, dtype=self.data.dtype, copy=True)
        else:
            self.grad += grad

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}{frozen})"


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns, as in PyTorch."""

    missing_keys: list
    unexpected_keys: list


class Module(ModuleHooks):
    """Base class of every layer and container.

    Subclasses implement ``forward(x)`` and ``backward(grad_out) -> grad_in``. Assigning a
    Parameter or a Module to an attribute registers it (in assignment order, as in PyTorch);
    ``register_buffer`` registers a non-trainable array that belongs in the state dict.
    """

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        # Set up the registries here rather than in __init__, so a subclass that forgets
        # super().__init__() still works. The constructor arguments are remembered so that a
        # model file can describe how to rebuild the module (see strided.io).
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_init_args", (args, kwargs))
        object.__setattr__(self, "_saved", None)
        object.__setattr__(self, "_grad_dtype", None)
        object.__setattr__(self, "training", True)
        for hooks in ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks"):
            object.__setattr__(self, hooks, OrderedDict())
        return self

    _fused = False  # True on every module of a copy made by ``fuse()``: inference only

    def __init__(self):
        pass

    # ----------------------------------------------------------------- registration
    def __setattr__(self, name, value):
        registries = (self._parameters, self._buffers, self._modules)
        if isinstance(value, Parameter):
            target = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        elif name in self._buffers:
            target = self._buffers
        elif name in self._parameters and value is None:
            target = self._parameters  # e.g. ``self.bias = None``: stays a known, empty slot
        else:
            target = None
        for registry in registries:
            if registry is not target:
                registry.pop(name, None)
        if target is not None:
            target[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array) -> None:
        """Register a non-trainable array (like BatchNorm's running statistics) by name."""
        self._buffers[name] = array
        object.__setattr__(self, name, array)

    # ----------------------------------------------------------------- forward and backward
    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def backward(self, grad_out):
        raise NotImplementedError(f"{type(self).__name__} does not define backward()")

    def __call__(self, *args, **kwargs):
        if self._fused and is_grad_enabled():  # a fused model keeps nothing for a backward it cannot run
            with no_grad():
                return self(*args, **kwargs)
        # The storage dtype of this forward (st.amp), for pass_gradient: the backward may run after
        # the autocast block has closed.
        object.__setattr__(self, "_grad_dtype", storage_dtype())
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def pass_gradient(self, grad):
        """``grad`` as a composite hands it from one child's backward to the next child's (or returns it).

        Under mixed precision (a forward inside ``st.amp.autocast``) it is stored in 16 bits, as the saved
        activations are: a gradient is an activation-sized array too. Otherwise (float32 training, float64,
        a dict or None) it is ``grad`` itself. Every composite (Sequential, the residual and dense blocks,
        Graph) calls it on each gradient it passes, so the policy holds inside blocks as between layers.
        """
        return stored_gradient(grad, self._grad_dtype)

    def save_for_backward(self, *items) -> None:
        """Keep what backward will need, unless inside ``st.no_grad()`` (inference keeps nothing)."""
        object.__setattr__(self, "_saved", items if is_grad_enabled() else None)

    def saved_for_backward(self) -> tuple:
        """Return (and release) what the last forward kept; a clear error if there is nothing."""
        saved = self._saved
        if saved is None and self._fused:
            raise RuntimeError(f"{self.label()}: this model was fused for inference (model.fuse()) and has no "
                               "backward; train the original model, and fuse it again afterwards")
        if saved is None:
            raise RuntimeError(
                f"{self.label()}: backward() needs a forward() first (one backward per forward, "
                "and not after a forward under st.no_grad())"
            )
        object.__setattr__(self, "_saved", None)
        return saved

    # ----------------------------------------------------------------- traversal
    def named_children(self) -> Iterator[tuple]:
        yield from self._modules.items()

    def children(self) -> Iterator["Module"]:
        for _, module in self.named_children():
            yield module

    def named_modules(self, prefix: str = "") -> Iterator[tuple]:
        """This module and every module inside it, with dotted names ('' for this one)."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{child}" if name else child, m) for child, m in module._modules.items()]
            stack.extend(reversed([c for c in children if c[1] is not None]))

    def modules(self) -> Iterator["Module"]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple]:
        """(name, Parameter) pairs, PyTorch's names; a shared parameter is listed once."""
        seen = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is None or id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple]:
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self) -> Iterator[np.ndarray]:
        for _, buffer in self.named_buffers():
            yield buffer

    # ----------------------------------------------------------------- state
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Parameters and buffers by name, in registration order (each module's own first)."""
        state = OrderedDict()
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[prefix + name] = param.data
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    state[prefix + name] = buffer
        return state

    def load_state_dict(self, state_dict, strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into this module's parameters and buffers, by name.

        Returns the missing and unexpected keys; with ``strict`` either kind is an error. A shape
        mismatch is always an error. Values are converted to each parameter's dtype.
        """
        own = {}
        for module_name, module in self.named_modules():
            prefix = f"{module_name}." if module_name else ""
            for name, param in module._parameters.items():
                if param is not None:
                    own[prefix + name] = (module, name, True)
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    own[prefix + name] = (module, name, False)
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict into {type(self).__name__}: missing keys {missing}, unexpected keys {unexpected}"
            )
        for key, (module, name, is_param) in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            current = module._parameters[name].data if is_param else module._buffers[name]
            if value.shape != np.shape(current):
                raise ValueError(
                    f"load_state_dict: '{key}' expects shape {np.shape(current)}, got {value.shape}"
                )
            value = np.array(value, dtype=np.asarray(current).dtype, copy=True)
            if is_param:
                module._parameters[name].data = value
            else:
                setattr(module, name, value)
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- modes and housekeeping
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active, batch norm uses batch statistics) for every submodule."""
        if mode and self._fused:
            raise RuntimeError(f"{self.label()}: this model was fused for inference (model.fuse()) and cannot "
                               "train; train the original model, and fuse it again afterwards")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def apply(self, fn: Callable) -> "Module":
        """Call ``fn(module)`` on every submodule (children first, recursively) and then on this one, e.g. to
        initialise weights: ``model.apply(init_fn)``. Returns this module."""
        for child in self.children():
            if child is not None:
                child.apply(fn)
        fn(self)
        return self

    def fuse(self) -> "Module":
        """An equivalent copy for inference only, each Conv2d + BatchNorm2d folded into one Conv2d with
        W' = W * gamma / sqrt(var + eps) and b' = (b - mean) * gamma / sqrt(var + eps) + beta per output
        channel (see strided/nn/fuse.py). This model is left as it is."""
        from .fuse import fuse  # fuse knows the layers and blocks, which import this module

        return fuse(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze every parameter of this module and its submodules, e.g. a pretrained
        backbone: frozen parameters get no gradient from backward and no optimizer update."""
        for param in self.parameters():
            param.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        """Forget accumulated gradients (sets every ``Parameter.grad`` to None, as PyTorch does)."""
        for param in self.parameters():
            param.grad = None

    def to(self, dtype) -> "Module":
        """Convert every parameter and floating buffer to ``dtype`` (e.g. np.float64), in place."""
        dtype = np.dtype(dtype)
        for module in self.modules():
            for param in module._parameters.values():
                if param is not None:
                    param.data = param.data.astype(dtype)
                    param.grad = None if param.grad is None else param.grad.astype(dtype)
            for name, buffer in list(module._buffers.items()):
                if buffer is not None and np.issubdtype(np.asarray(buffer).dtype, np.floating):
                    setattr(module, name, np.asarray(buffer).astype(dtype))
        return self

    def float(self) -> "Module":
        return self.to(np.float32)

    def double(self) -> "Module":
        return self.to(np.float64)

    # ----------------------------------------------------------------- description
    def label(self) -> str:
        """Short name used in error messages, e.g. 'Conv2d(3 -> 16)'. Layers may override it."""
        return type(self).__name__

    def extra_repr(self) -> str:
        """The part of repr() inside the parentheses (PyTorch's hook of the same name)."""
        return ""

    def __repr__(self) -> str:
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n  " + "\n  ".join(lines) + "\n)"
