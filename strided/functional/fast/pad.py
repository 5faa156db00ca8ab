"""Padding of H and W, fast: must equal strided.functional.reference.pad.pad2d_forward and pad2d_backward.

The reference gathers every output pixel through an index map; here each border is a few slice copies.

Padding is separable: ``out[i, j] = x[m_h(i), m_w(j)]`` where ``m`` maps an output index to the input
index it copies (the border value for 'zeros'/'constant'):

    constant   m(i) = i - pad_before, or the constant outside the input
    replicate  m(i) = clamp(i - pad_before, 0, n - 1)                (edge pixel repeated)
    reflect    m(i) = reflection of i - pad_before about 0 and n - 1  (edge pixel not repeated)
    circular   m(i) = (i - pad_before) mod n                          (wrap around)

So the forward pads the width first, then the height of that result (which fills the corners), and the
backward undoes it in reverse: it folds the gradient of the border rows, then of the border columns, back
onto the pixels they copied (``grad_x[m(i)] += grad_out[i]``). Both are slicing only.

Padding is ``(left, right, top, bottom)``, like PyTorch's. A negative amount crops, also like PyTorch.
"""

import numpy as np

from ..dispatch import Context
from ..geometry import check_padding


def _on(axis: int, index) -> tuple:
    """An index tuple selecting ``index`` on axis -1 or -2 and everything on the others."""
    return (Ellipsis, index) if axis == -1 else (Ellipsis, index, slice(None))


def _fill_border(out: np.ndarray, axis: int, before: int, after: int, mode: str, value) -> None:
    """Write the ``before``/``after`` border of ``out`` along ``axis`` from its interior, in place."""
    n = out.shape[axis] - before - after
    end = before + n
    if mode in ("zeros", "constant"):
        out[_on(axis, slice(0, before))] = value
        out[_on(axis, slice(end, None))] = value
    elif mode == "replicate":
        out[_on(axis, slice(0, before))] = out[_on(axis, slice(before, before + 1))]
        out[_on(axis, slice(end, None))] = out[_on(axis, slice(end - 1, end))]
    elif mode == "reflect":
        out[_on(axis, slice(0, before))] = np.flip(out[_on(axis, slice(before + 1, 2 * before + 1))], axis)
        out[_on(axis, slice(end, None))] = np.flip(out[_on(axis, slice(end - 1 - after, end - 1))], axis)
    else:  # circular
        out[_on(axis, slice(0, before))] = out[_on(axis, slice(n, end))]
        out[_on(axis, slice(end, None))] = out[_on(axis, slice(before, before + after))]


def _fold_border(full: np.ndarray, axis: int, before: int, after: int, mode: str) -> np.ndarray:
    """The adjoint of ``_fill_border``: the interior of ``full`` plus the border gradient it was copied to."""
    n = full.shape[axis] - before - after
    end = before + n
    inner = full[_on(axis, slice(before, end))].copy()
    head, tail = full[_on(axis, slice(0, before))], full[_on(axis, slice(end, None))]
    if mode == "replicate":
        if before:
            inner[_on(axis, slice(0, 1))] += head.sum(axis=axis, keepdims=True)
        if after:
            inner[_on(axis, slice(n - 1, n))] += tail.sum(axis=axis, keepdims=True)
    elif mode == "reflect":
        inner[_on(axis, slice(1, before + 1))] += np.flip(head, axis)
        inner[_on(axis, slice(n - 1 - after, n - 1))] += np.flip(tail, axis)
    elif mode == "circular":
        inner[_on(axis, slice(n - before, n))] += head
        inner[_on(axis, slice(0, after))] += tail
    return inner  # constant: the border's gradient belongs to the constant, not to x


def _split(padding) -> tuple[tuple, tuple]:
    """Positive amounts (padded) and negative ones (cropped afterwards, as PyTorch does)."""
    return tuple(max(p, 0) for p in padding), tuple(max(-p, 0) for p in padding)


def _crop_slices(shape, crop) -> tuple:
    left, right, top, bottom = crop
    return (Ellipsis, slice(top, shape[-2] - bottom), slice(left, shape[-1] - right))


def _uncrop(grad: np.ndarray, crop) -> np.ndarray:
    """The adjoint of cropping: the gradient placed back, zeros where the cropped-away pixels were."""
    left, right, top, bottom = crop
    full = np.zeros(grad.shape[:-2] + (grad.shape[-2] + top + bottom, grad.shape[-1] + left + right), grad.dtype)
    full[_crop_slices(full.shape, crop)] = grad
    return full


def _pad(x: np.ndarray, padding, mode: str = "zeros", value: float = 0.0) -> np.ndarray:
    """Pad the last two axes: ``padding`` = (left, right, top, bottom); mode as ``geometry.PAD_MODES``.

    Output shape (..., H + top + bottom, W + left + right); the dtype is kept. Negative amounts crop:
    after padding, except for 'circular', which PyTorch crops first and then wraps what is left.
    """
    (left, right, top, bottom), crop = _split(padding)
    crop_first = mode == "circular" and any(crop)
    if crop_first:
        check_padding(x.shape, padding, "constant")  # the output must not be empty
        x = x[_crop_slices(x.shape, crop)]
    check_padding(x.shape, (left, right, top, bottom) if crop_first else padding, mode)
    value = 0 if mode == "zeros" else value
    height, width = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (height + top + bottom, width + left + right), dtype=x.dtype)
    out[..., top:top + height, left:left + width] = x
    _fill_border(out[..., top:top + height, :], -1, left, right, mode, value)
    _fill_border(out, -2, top, bottom, mode, value)
    if any(crop) and not crop_first:
        out = np.ascontiguousarray(out[_crop_slices(out.shape, crop)])
    return out


def _unpad(grad: np.ndarray, padding, mode: str = "zeros") -> np.ndarray:
    """Gradient of ``_pad`` with respect to its input: border gradients go to the pixels they copied."""
    (left, right, top, bottom), crop = _split(padding)
    crop_first = mode == "circular"
    if any(crop) and not crop_first:
        grad = _uncrop(grad, crop)
    rows = _fold_border(grad, -2, top, bottom, mode)
    grad_x = _fold_border(rows, -1, left, right, mode)
    if any(crop) and crop_first:
        grad_x = _uncrop(grad_x, crop)
    return grad_x


def pad2d_forward(x, padding, mode="zeros", value=0.0, need_backward=True):
    """(y, ctx) of ``pad2d``; ``ctx.backward(grad)`` is ``pad2d_backward``."""
    y = _pad(x, padding, mode, value)
    return y, (Context(pad2d_backward, padding=padding, mode=mode) if need_backward else None)


def pad2d_backward(ctx, grad_out):
    """dL/dx from dL/dy: border gradients go to the pixels they copied."""
    return _unpad(grad_out, ctx.padding, ctx.mode)
