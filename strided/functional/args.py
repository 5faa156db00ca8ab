"""Parsing of the arguments every layer and kernel shares: positive ints, (h, w) pairs, 4-sided paddings.

One place for them, so that every layer answers a bad argument the same way: the caller's label, what
arrived, what was expected (``Conv2d: stride must be an int or a pair of ints >= 1, got (1, 0)``).
A value of the wrong type raises ``ArgumentTypeError`` (a TypeError), a value of the right type but out
of range a ValueError. ``ArgumentTypeError`` is a ValueError too: strided raised ValueError for both
before, and code that catches ValueError keeps working.
"""

import numpy as np


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (a TypeError; also a ValueError, as strided raised before)."""


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def positive_int(value, name: str, who: str, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``: ``Conv2d: groups must be a positive integer, got 0``."""
    if not is_int(value):
        raise ArgumentTypeError(f"{who}: {name} must be {_int_words(minimum)}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{who}: {name} must be {_int_words(minimum)}, got {value!r}")
    return int(value)


def _int_words(minimum: int) -> str:
    return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")


def pair(value, name: str, who: str, minimum: int | None = None) -> tuple[int, int]:
    """An int or a pair of ints as (h, w), each at least ``minimum`` when given."""
    if is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        result = (int(value[0]), int(value[1]))
    else:
        bound = "" if minimum is None else f" >= {minimum}"
        raise ArgumentTypeError(f"{who}: {name} must be an int or a pair of ints (h, w){bound}, got {value!r}")
    if minimum is not None and min(result) < minimum:
        raise ValueError(f"{who}: {name} must be an int or a pair of ints (h, w) >= {minimum}, got {value!r}")
    return result


def padding4(value, who: str, name: str = "padding") -> tuple[int, int, int, int]:
    """An int (all four sides) or 4 ints, as (left, right, top, bottom): torch.nn.functional.pad's order."""
    if is_int(value):
        return (int(value),) * 4
    if isinstance(value, (tuple, list)) and len(value) == 4 and all(is_int(p) for p in value):
        return tuple(int(p) for p in value)
    raise ArgumentTypeError(f"{who}: {name} must be an int or 4 ints (left, right, top, bottom), got {value!r}")


def conv_padding(padding, kernel_size, dilation, who: str = "conv2d") -> tuple[int, int, int, int]:
    """A convolution's padding as (left, right, top, bottom), from an int, (h, w), 4 ints, 'valid' or 'same'.

    'same' pads d*(k-1) in total per axis, the odd pixel on the right/bottom, as PyTorch.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            (kh, kw), (dh, dw) = pair(kernel_size, "kernel_size", who), pair(dilation, "dilation", who)
            total_h, total_w = dh * (kh - 1), dw * (kw - 1)
            return total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2
        raise ValueError(f"{who}: padding string must be 'same' or 'valid', got {padding!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        return padding4(padding, who)
    ph, pw = pair(padding, "padding", who)
    return pw, pw, ph, ph


def one_of(value, choices, name: str, who: str):
    """``value`` if it is one of ``choices``: ``GELU: approximate must be 'none' or 'tanh', got 'erf'``."""
    if value not in choices:
        words = " or ".join(repr(c) for c in choices) if len(choices) <= 2 else f"one of {tuple(choices)}"
        raise ValueError(f"{who}: {name} must be {words}, got {value!r}")
    return value
