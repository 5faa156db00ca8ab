"""Learning-rate schedulers: torch.optim.lr_scheduler's classes, signatures and sequences.

A scheduler edits ``optimizer.param_groups[i]['lr']``; call ``scheduler.step()`` after
``optimizer.step()`` (once per epoch, or once per batch for OneCycleLR). Construction sets the
step-0 learning rates (and remembers each group's ``initial_lr``). Most schedules are *chainable*:
like PyTorch, they compute the next lr from the current one (the recursive forms below), so the
sequences equal PyTorch's to the last bit and two schedulers can act on one optimizer.
``state_dict()`` holds everything but the optimizer; ``load_state_dict()`` restores it.
"""

from .base import LRScheduler
from .one_cycle import OneCycleLR
from .plateau import ReduceLROnPlateau
from .schedules import CosineAnnealingLR, ExponentialLR, LambdaLR, LinearLR, MultiStepLR, SequentialLR, StepLR

__all__ = [
    "LRScheduler", "LambdaLR", "StepLR", "MultiStepLR", "LinearLR", "ExponentialLR", "SequentialLR",
    "CosineAnnealingLR", "OneCycleLR", "ReduceLROnPlateau",
]
