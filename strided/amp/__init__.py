"""Mixed precision (torch.amp's names): ``GradScaler`` (dynamic loss scaling), ``autocast`` and the
precision policies "32", "16-mixed", "bf16-mixed" (``get_precision``).

See docs/mixed-precision.md.
"""

from .grad_scaler import GradScaler
from .policy import PRECISIONS, Precision, autocast, bfloat16, get_precision

__all__ = ["PRECISIONS", "GradScaler", "Precision", "autocast", "bfloat16", "get_precision"]
