"""Containers: modules made of modules, whose backward is derived from their children's.

``Sequential`` is a chain: forward runs the children in order, backward runs their backwards in
reverse, handing each one's input gradient to the one before.
"""

from ..functional.storage import storage_dtype, stored_gradient
from .module import Module

__all__ = ["Sequential"]


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
        # Under mixed precision the gradients passed between the children are stored in 16 bits.
        object.__setattr__(self, "_grad_dtype", storage_dtype())
        for module in self._modules.values():
            x = module(x)
        return x

    def backward(self, grad_out):
        grad_dtype = getattr(self, "_grad_dtype", None)
        for module in reversed(self._modules.values()):
            grad_out = stored_gradient(module.backward(grad_out), grad_dtype)
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
