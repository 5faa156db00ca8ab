"""Hooks on modules (PyTorch's): functions called around a module's forward and backward, e.g. to
capture intermediate outputs or gradients, each removable through the handle its registration returns.

Forward hooks run in ``Module.__call__`` (so, as in PyTorch, only for ``module(x)``, not
``module.forward(x)``). Backward hooks need more care, since strided has no tape: containers call
``child.backward(g)`` directly. While a module has backward hooks, an instance attribute ``backward``
shadows its class's method and runs the hooks around it; modules without hooks pay nothing.
"""

import itertools
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ModuleHooks", "RemovableHandle"]

_hook_ids = itertools.count()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook (also as a ``with`` block)."""

    def __init__(self, module: "ModuleHooks", hooks: OrderedDict):
        self.id = next(_hook_ids)
        self._module, self._hooks = module, hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)
        self._module._sync_backward_hooks()

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


class ModuleHooks:
    """The hook registry part of Module (its ``__new__`` creates the four ordered dicts used here)."""

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        """``module(*args)`` with the forward pre-hooks before and the forward hooks after."""
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def has_hooks(self) -> bool:
        """Whether any forward or backward hook is registered on this module (model.fuse() and the fused batch
        norm + ReLU kernel, which skip a module's own calls, leave such a module as it is)."""
        return bool(self._forward_pre_hooks or self._forward_hooks or self._backward_pre_hooks
                    or self._backward_hooks)

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a non-None result replaces the inputs."""
        return self._add_hook(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward (through ``module(x)``, as PyTorch);
        a non-None result replaces the output."""
        return self._add_hook(self._forward_hooks, hook)

    def register_full_backward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` (a 1-tuple) before each backward; a non-None result replaces it."""
        return self._add_hook(self._backward_pre_hooks, hook)

    def register_full_backward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` (tuples) after each backward of this module;
        a non-None result replaces grad_input, the gradient handed to the module before."""
        return self._add_hook(self._backward_hooks, hook)

    def _add_hook(self, hooks: OrderedDict, hook: Callable) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{self.label()}: a hook must be callable, got {type(hook).__name__}")
        handle = RemovableHandle(self, hooks)
        hooks[handle.id] = hook
        self._sync_backward_hooks()
        return handle

    def _sync_backward_hooks(self) -> None:
        """Route ``backward`` through the hooks only while this module has backward hooks.

        Containers call ``child.backward(g)`` directly (there is no tape), so the hooks sit on the instance:
        an instance attribute ``backward`` shadows the class's method for this one module, and costs the
        modules without hooks nothing. ``super().backward`` calls inside a layer still reach the class's.
        """
        hooked = bool(self._backward_pre_hooks or self._backward_hooks)
        if hooked and "backward" not in self.__dict__:
            object.__setattr__(self, "backward", self._backward_with_hooks)
        elif not hooked and "backward" in self.__dict__:
            object.__delattr__(self, "backward")

    def _backward_with_hooks(self, grad_out):
        for hook in list(self._backward_pre_hooks.values()):
            result = hook(self, (grad_out,))
            if result is not None:
                grad_out = result[0] if isinstance(result, tuple) else result
        grad_in = type(self).backward(self, grad_out)
        several = isinstance(grad_in, tuple)  # a module of several inputs (Add, Concat) returns one per input
        grads = grad_in if several else (grad_in,)
        for hook in list(self._backward_hooks.values()):
            result = hook(self, grads, (grad_out,))
            if result is not None:
                grads = tuple(result) if isinstance(result, (tuple, list)) else (result,)
        return grads if several else grads[0]
