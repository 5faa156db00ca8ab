"""Optimizers and learning-rate schedulers, with torch.optim's names, defaults and update rules.

``st.optim.SGD``, ``st.optim.Adam``, ``st.optim.AdamW`` and ``st.optim.RMSprop`` read each
``Parameter.grad`` and update ``Parameter.data`` in place; ``st.optim.lr_scheduler`` changes their
``param_groups[i]['lr']``.
"""

from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
__all__ += ["RMSprop"]
