"""Whether layers keep what their backward pass needs.

strided has no autograd tape: each layer's forward keeps the few arrays its own backward needs.
Inference does not need them, so ``with st.no_grad():`` (PyTorch's name) tells every layer to keep
nothing, which saves memory and time. A backward after a forward under ``no_grad`` is an error.
"""

import contextlib
import threading


class _GradMode(threading.local):
    # A class default rather than getattr(state, "enabled", True): a missing thread-local attribute
    # raises and catches an AttributeError, 1-3 us on each of the ~30 calls of a small model's forward.
    enabled = True


_state = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` in this thread."""
    return _state.enabled


@contextlib.contextmanager
def _grad_enabled(mode: bool):
    previous = is_grad_enabled()
    _state.enabled = mode
    try:
        yield
    finally:
        _state.enabled = previous


def no_grad():
    """Context manager: layers keep nothing for backward inside it (inference)."""
    return _grad_enabled(False)


def enable_grad():
    """Context manager: undo an enclosing ``no_grad``."""
    return _grad_enabled(True)
