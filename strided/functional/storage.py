"""Mixed precision's storage rule: in which dtype a saved context keeps the arrays its backward will read.

Every kernel's forward hands what its backward needs to one constructor, ``dispatch.Context``; that is
the one place where 16-bit storage happens. Under a mixed-precision policy (``st.amp.autocast``, or
``Trainer(precision="16-mixed")``) the context keeps its *activation-sized* float32 arrays (the
convolution's padded input, a ReLU's output, batch norm's centred input, ...) in float16 or bfloat16,
half the bytes, and casts them back to float32 just before its backward runs. The products, the
reductions and the parameters never change dtype: the backward computes in float32 on the restored
arrays, so the only error is the rounding of the stored values (relative 2^-11 for float16, 2^-8 for
bfloat16).

What stays float32, as in torch.autocast's lists:

* parameters and per-channel statistics a context refers to (``weight``, batch norm's ``inv_std`` and
  ``running_mean``): only the fields named in ``ACTIVATION_FIELDS`` are ever stored in 16 bits;
* the contexts of the ops autocast runs in float32 (``FLOAT32_KERNELS``: softmax, log-softmax; the
  losses keep fields outside ``ACTIVATION_FIELDS``): their outputs are probabilities whose small values
  float16 would flush, and they are small (one row per sample);
* anything already in float64 or 16 bits, and integer or boolean arrays (max-pool indices, masks).
"""

import numpy as np

# The fields of the kernels' contexts that hold an activation (an array the size of a layer's input or
# output): conv's ``grid`` (fast) and ``cols`` (reference), linear's ``x``, batch norm's ``centred``
# (fast, training), ``x`` (fast, eval) and ``x_hat`` (reference), the activations' ``x``, ``y`` and
# GELU's ``cdf``, dropout's ``mask``.
# (The fast convolution's padded input ``grid`` belongs to the buffer pool: the kernel stores it itself,
# with ``store_array``, so that the float32 buffer goes back to the pool at once; see fast/conv.py.)
ACTIVATION_FIELDS = frozenset({"cols", "x", "x_hat", "centred", "y", "cdf", "mask"})
# Backward functions (by name, the same in reference/ and fast/) whose context stays float32.
FLOAT32_KERNELS = frozenset({"softmax_backward", "log_softmax_backward"})

_state = {"dtype": None}  # None: store as computed (float32 training)


def storage_dtype():
    """The 16-bit dtype saved contexts use now, or None (no mixed precision)."""
    return _state["dtype"]


def set_storage_dtype(dtype) -> None:
    """Store saved contexts' activations in ``dtype`` (np.float16, ml_dtypes.bfloat16) from now on; None: don't."""
    if dtype is not None and np.dtype(dtype).itemsize != 2:
        raise ValueError(f"storage dtype must be a 16-bit float (float16, bfloat16), got {np.dtype(dtype)}")
    _state["dtype"] = None if dtype is None else np.dtype(dtype)


def is_storage_dtype(dtype) -> bool:
    """A 16-bit float: what a mixed-precision gradient or stored activation is (float16 or bfloat16)."""
    return dtype.itemsize == 2 and dtype.kind in "fV"  # ml_dtypes' bfloat16 has kind 'V'


def store(backward, saved: dict) -> dict:
    """``saved`` with its float32 activation fields cast to the storage dtype; {field: dtype to restore}."""
    dtype = _state["dtype"]
    if dtype is None or getattr(backward, "__name__", "") in FLOAT32_KERNELS:
        return {}
    casts = {}
    for name in ACTIVATION_FIELDS.intersection(saved):
        value = saved[name]
        if isinstance(value, np.ndarray) and value.dtype == np.float32:
            saved[name] = value.astype(dtype)
            casts[name] = value.dtype
    return casts


def store_array(array: np.ndarray):
    """A 16-bit copy of a float32 array to keep for a backward, or None when nothing is to be stored in 16 bits."""
    dtype = _state["dtype"]
    return array.astype(dtype) if dtype is not None and array.dtype == np.float32 else None


def restore(fields: dict, casts: dict) -> None:
    """Cast the stored fields (an object's ``__dict__``) back to the dtypes they were computed in."""
    for name, dtype in casts.items():
        fields[name] = fields[name].astype(dtype)


def compute_gradient(grad: np.ndarray) -> np.ndarray:
    """A gradient stored in 16 bits, in float32 again for a backward's products (others unchanged)."""
    return grad.astype(np.float32) if isinstance(grad, np.ndarray) and is_storage_dtype(grad.dtype) else grad


def stored_gradient(grad, dtype):
    """The gradient passed from one layer to the one before, in the storage dtype (None: unchanged).

    Composites reach it through ``Module.pass_gradient``, with the dtype of their own forward."""
    if dtype is None or not isinstance(grad, np.ndarray) or grad.dtype != np.float32:
        return grad
    return grad.astype(dtype)
