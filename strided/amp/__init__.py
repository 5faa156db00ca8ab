"""Mixed precision (torch.amp's names): ``GradScaler`` (dynamic loss scaling) and the precision policies.

See docs/mixed-precision.md.
"""

from .grad_scaler import GradScaler

__all__ = ["GradScaler"]
