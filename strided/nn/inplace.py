"""When a container may let a ReLU (or a residual sum) overwrite an array instead of allocating a new one.

A ReLU's output is as large as its input. Allocating it costs memory and, on Linux, page faults: freed
activations go back to the operating system between steps and every new array faults its pages in again
(3 us a page on the 2-core test machine; seed-net's step spent 8 of its 33 ms in them). PyTorch users
write ``ReLU(inplace=True)`` and take the risk themselves; strided's layers never modify their input, but
the containers (Sequential, the ResNet and DenseNet blocks) know who else can read an array and apply the
ReLU in place where nobody can. That is so when the array is the fresh output of the layer just before:

* a layer whose output is always a new array that it keeps no reference to (a convolution keeps its
  padded input, batch norm its centred input or its input, a linear layer its input) -- checked on what
  its forward actually kept, since a reference kernel may keep its output (batch norm without affine);
* nothing watches either layer: no hook (a hook may keep the array), no ``forward`` replaced on the
  instance (strided.nn.capture and the web page's trace record outputs by identity that way).

The same holds for a layer's input gradient (a convolution's backward returns a new array), which lets a
residual block add its two branches' gradients in place.

The results are the same numbers as without: tests/nn/test_inplace.py compares gradients and outputs.
"""

import numpy as np

from .activation import ReLU
from .conv import Conv2d
from .linear import Linear
from .module import Module
from .norm import BatchNorm1d, BatchNorm2d

FRESH_OUTPUT = (Conv2d, BatchNorm1d, BatchNorm2d, Linear)  # exact types: a subclass may keep its output


def _kept_arrays(module: Module):
    """The arrays ``module``'s last forward kept for its backward (inside its kernel contexts)."""
    for item in getattr(module, "_saved", None) or ():
        if isinstance(item, np.ndarray):
            yield item
        elif hasattr(item, "_backward"):  # a kernel's Context
            yield from (value for value in vars(item).values() if isinstance(value, np.ndarray))


def _watched(module: Module) -> bool:
    """Hooks, or a ``forward`` replaced on the instance (feature capture and the web page's trace do that)."""
    return module.has_hooks() or "forward" in vars(module)


def is_private_output(producer: Module, output) -> bool:
    """True if only the caller can reach ``output``, which ``producer`` has just returned."""
    return (type(producer) in FRESH_OUTPUT and not _watched(producer) and isinstance(output, np.ndarray)
            and not any(np.may_share_memory(output, kept) for kept in _kept_arrays(producer)))


def relu_over(relu: Module, producer: Module, x):
    """``relu(x)``, overwriting x when it is ``producer``'s private output; else an ordinary call."""
    if type(relu) is not ReLU or _watched(relu) or not is_private_output(producer, x):
        return relu(x)
    object.__setattr__(relu, "_overwrite_input", True)
    try:
        return relu(x)
    finally:
        object.__setattr__(relu, "_overwrite_input", False)


def chain_forward(modules, x):
    """x through ``modules`` in order (Sequential's forward), each ReLU in place where ``relu_over`` may."""
    previous = None
    for module in modules:
        x = module(x) if previous is None or type(module) is not ReLU else relu_over(module, previous, x)
        previous = module
    return x


def add_over(producer: Module, main, other):
    """main + other, written into ``main`` when it is ``producer``'s private output (a residual sum, or
    the sum of a residual block's two input gradients: ``main`` from ``producer``'s backward)."""
    if is_private_output(producer, main) and np.result_type(main, other) == main.dtype \
            and np.broadcast_shapes(main.shape, np.shape(other)) == main.shape:
        return np.add(main, other, out=main)
    return main + other

