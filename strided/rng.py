"""strided's one source of randomness.

Every random draw in strided (weight initialisation, dropout masks, fractional pooling regions,
data shuffling and augmentation) comes from the generator held here, never from NumPy's global
state, so that ``st.manual_seed(n)`` makes a whole run repeatable.
"""

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed strided's generator, like ``torch.manual_seed``, and return it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"manual_seed: expected an integer seed, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def get_generator() -> np.random.Generator:
    """The generator that strided's random draws use (re-created by ``manual_seed``)."""
    return _generator


def get_rng_state() -> dict:
    """The generator's state, a JSON-friendly dict (for checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = state
