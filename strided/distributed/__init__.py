"""strided.distributed: training on several processes over MPI, with PyTorch's names.

    mpiexec -n 2 python train.py          # every rank runs the same script

    import strided as st
    st.distributed.init_process_group()                    # a world of one without mpiexec
    model = st.distributed.DistributedDataParallel(model)  # rank 0's weights everywhere; grads averaged
    sampler = st.data.DistributedSampler(train_set)        # each rank its share of every epoch
    loader = st.data.DataLoader(train_set, 64, sampler=sampler)

Data parallelism (DistributedDataParallel, SyncBatchNorm in strided.nn) and pipeline model
parallelism (Pipeline). See docs/distributed.md.
"""

from .ddp import DistributedDataParallel
from .pipeline import Pipeline
from .process_group import (
    ReduceOp,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object,
    destroy_process_group,
    gather_object,
    get_rank,
    get_world_size,
    init_process_group,
    is_initialized,
)

__all__ = [
    "DistributedDataParallel", "Pipeline", "ReduceOp", "all_gather_object", "all_reduce", "barrier", "broadcast",
    "broadcast_object", "destroy_process_group", "gather_object", "get_rank", "get_world_size", "init_process_group",
    "is_initialized",
]
