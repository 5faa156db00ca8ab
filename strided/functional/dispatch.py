"""Which kernels run: the fast ones (default) or the textbook references, and the context a forward keeps.

Every op exists twice, with the same names and signatures: in ``strided.functional.reference`` (the
textbook algorithm, the definition) and in ``strided.functional.fast`` (the same numbers, faster).
``kernels()`` returns the package in use; ``use_reference(True)``, or the environment variable
``STRIDED_REFERENCE=1`` set before strided is imported, runs any model on the references.

A kernel's forward returns ``(y, ctx)``; ``ctx`` holds whatever that kernel's backward needs (the fast
conv keeps a pooled buffer in it, the reference keeps its columns) and remembers which backward to call:
``ctx.backward(grad)``. A layer keeps the context and hands the gradient to it: it never sees a buffer.
"""

import os

from . import storage

ENVIRONMENT_VARIABLE = "STRIDED_REFERENCE"

_state = {"reference": os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")}


def use_reference(enabled: bool = True) -> None:
    """Run every layer and functional op on the reference kernels (True) or on the fast ones (False)."""
    _state["reference"] = bool(enabled)


def using_reference() -> bool:
    return _state["reference"]


_packages = {}  # reference? -> package, filled at the first call


def kernels():
    """The kernel package in use: ``strided.functional.reference`` or ``strided.functional.fast``."""
    # Looked up in a dict: an import statement here cost 2-4 us on each of a layer's calls.
    if not _packages:
        from . import fast, reference  # imported here: both import this module's Context

        _packages.update({True: reference, False: fast})
    return _packages[_state["reference"]]


class Context:
    """What a forward kept for its backward, and that backward: ``ctx.backward(grad)``.

    Opaque to the caller; the kernel that made it reads its fields. One backward per context: the fast
    kernels give their buffers back to the pool in it. Under mixed precision the activations it keeps are
    stored in 16 bits and restored to float32 for its backward: this is the one place (see storage.py).
    """

    def __init__(self, backward, **saved):
        self._backward = backward
        self._casts = storage.store(backward, saved)
        self.__dict__.update(saved)

    def backward(self, grad_out):
        if self._casts:
            storage.restore(self.__dict__, self._casts)
            self._casts = {}
        return self._backward(self, storage.compute_gradient(grad_out))
