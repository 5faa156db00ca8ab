"""Small argument helpers shared by the sub-commands."""

import argparse


def parse_shape(text: str) -> tuple:
    """'1,28,28' -> (1, 28, 28), for --input-shape."""
    try:
        shape = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W like 1,28,28, got {text!r}") from None
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W, got {text!r}")
    return shape
