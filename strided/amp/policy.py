"""Precision policies, with PyTorch Lightning's names: "32", "16-mixed", "bf16-mixed".

A policy says in which dtype the tensors saved for the backward and the gradients passed between
layers are stored. The parameters, the matrix products and the reductions stay float32 in every policy
(the "master weights"); see strided/functional/storage.py for the rule and docs/mixed-precision.md for why.

* "32": everything float32.
* "16-mixed": float16 storage; needs a GradScaler (float16's smallest value is 2^-24: small gradients
  underflow to zero without loss scaling).
* "bf16-mixed": bfloat16 storage (float32's exponent range, 8 bits of mantissa); no scaler needed.
  NumPy has no bfloat16: it comes from the ``ml_dtypes`` package (``pip install 'strided[amp]'``).
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..functional.storage import set_storage_dtype, storage_dtype

__all__ = ["PRECISIONS", "Precision", "autocast", "bfloat16", "get_precision"]

PRECISIONS = ("32", "16-mixed", "bf16-mixed")
# What users type, and what PyTorch Lightning also accepts, mapped to the names above.
_ALIASES = {"32": "32", "32-true": "32", "fp32": "32", "float32": "32",
            "16": "16-mixed", "16-mixed": "16-mixed", "fp16": "16-mixed", "float16": "16-mixed",
            "bf16": "bf16-mixed", "bf16-mixed": "bf16-mixed", "bfloat16": "bf16-mixed"}


def bfloat16() -> np.dtype:
    """NumPy's dtype for bfloat16, from ml_dtypes; a clear error with the install hint when it is missing."""
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError("bfloat16 needs the ml_dtypes package (NumPy has no bfloat16): "
                          "pip install 'strided[amp]'") from None
    return np.dtype(ml_dtypes.bfloat16)


@dataclass(frozen=True)
class Precision:
    """A policy: its ``name``, the 16-bit ``storage_dtype`` (None for "32"), whether it ``needs_scaler``."""

    name: str
    storage_dtype: object
    needs_scaler: bool

    @property
    def mixed(self) -> bool:
        return self.storage_dtype is not None

    def autocast(self):
        """A context manager: forwards inside it store their saved tensors in this policy's dtype."""
        return autocast(dtype=self.storage_dtype, enabled=self.mixed)


def get_precision(precision) -> Precision:
    """The policy named ``precision`` ("32", "16-mixed", "bf16-mixed", or 32, 16, "bf16", ...)."""
    if isinstance(precision, Precision):
        return precision
    key = str(precision).strip().lower() if isinstance(precision, (str, int)) and not isinstance(
        precision, bool) else None
    name = _ALIASES.get(key)
    if name is None:
        raise ValueError(f"precision: expected one of {', '.join(repr(p) for p in PRECISIONS)}, got {precision!r}")
    if name == "16-mixed":
        return Precision(name, np.dtype(np.float16), True)
    if name == "bf16-mixed":
        return Precision(name, bfloat16(), False)
    return Precision(name, None, False)


@contextmanager
def autocast(device_type: str = "cpu", dtype=np.float16, enabled: bool = True):
    """Inside it, saved contexts and inter-layer gradients are stored in ``dtype`` (torch.autocast's name).

    Unlike torch.autocast it changes no product's dtype (those stay float32), only what is stored. The
    backward may run inside or after the block: what the forward stored is what its backward restores.
    """
    if dtype is not None and np.dtype(dtype) not in (np.dtype(np.float16),) and np.dtype(dtype).kind != "V":
        raise ValueError(f"autocast: dtype must be np.float16 or bfloat16 (st.amp.bfloat16()), got {np.dtype(dtype)}")
    previous = storage_dtype()
    set_storage_dtype(dtype if enabled else None)
    try:
        yield
    finally:
        set_storage_dtype(previous)
