"""Small argument helpers shared by the sub-commands."""

import argparse
import importlib.util
import sys

# The import name of each optional dependency -> the name pip knows it by.
PIP_NAMES = {"PIL": "pillow", "multipart": "python-multipart", "prometheus_client": "prometheus-client"}


def parse_shape(text: str) -> tuple:
    """'1,28,28' -> (1, 28, 28), for --input-shape."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W like 1,28,28, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W, got {text!r}")
    return shape


def positive_int(text: str) -> int:
    """An integer of at least 1, for counts and sizes (--top-k, --batch-size, --epochs)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def require_extra(extra: str, *modules: str) -> None:
    """ImportError with the install hint, before any work starts, if one of ``modules`` is missing."""
    missing = [PIP_NAMES.get(m, m) for m in modules if not _importable(m)]
    if missing:
        raise ImportError(f"this needs {', '.join(missing)}: pip install 'strided[{extra}]'")


def _importable(module: str) -> bool:
    if module in sys.modules:
        return sys.modules[module] is not None  # None: blocked on purpose (as the tests do)
    return importlib.util.find_spec(module) is not None
