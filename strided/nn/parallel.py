"""``st.nn.parallel``: where PyTorch users look for DistributedDataParallel (it lives in strided.distributed)."""

from ..distributed.ddp import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
