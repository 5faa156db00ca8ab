"""Run under ``mpiexec -n N``: gradient accumulation under DistributedDataParallel syncs once per optimizer step.

Each rank trains its share of 7 global micro-batches of 12 with grad_accum_steps=3 (groups of 3, 3 and 1) and
counts the bucket allreduces; every rank also trains the whole model alone on the global micro-batches (the
reference). Twice: from a list (its length says where the epoch ends: no_sync() on all but a group's last
micro-batch) and from a generator (no length: every micro-batch syncs). Rank 0 prints ``RESULT {json}``.
"""

import json
import sys

import numpy as np

import strided as st
from strided import distributed as dist
from strided.distributed import process_group
from tests.distributed.workers.pipeline import model

MICRO_BATCHES, GLOBAL, ACCUMULATE = 7, 12, 3
calls = {"all_reduce": 0}
original_all_reduce = process_group.all_reduce


def counting_all_reduce(*args, **kwargs):
    calls["all_reduce"] += 1
    return original_all_reduce(*args, **kwargs)


process_group.all_reduce = counting_all_reduce  # what DistributedDataParallel's buckets call


def data():
    rng = np.random.default_rng(5)
    return [(rng.standard_normal((GLOBAL, 2, 6, 6)), rng.integers(0, 5, GLOBAL)) for _ in range(MICRO_BATCHES)]


def trainer_for(net):
    return st.train.Trainer(net, st.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), st.nn.CrossEntropyLoss(),
                            grad_accum_steps=ACCUMULATE, verbose=0)


def main():
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    reference = model(np.float64)
    trainer_for(reference).fit(data(), epochs=1)
    share = GLOBAL // world
    mine = [(x[rank * share:(rank + 1) * share], y[rank * share:(rank + 1) * share]) for x, y in data()]
    results = {}
    for kind in ("list", "generator"):
        ddp = dist.DistributedDataParallel(model(np.float64), bucket_cap_mb=0.001)  # several buckets
        calls["all_reduce"] = 0
        trainer_for(ddp).fit(mine if kind == "list" else (batch for batch in mine), epochs=1)
        error = max(float(np.max(np.abs(p.data - q.data)) / np.max(np.abs(q.data)))
                    for p, q in zip(ddp.parameters(), reference.parameters(), strict=True))
        results[kind] = {"error": max(dist.all_gather_object(error)), "allreduces": calls["all_reduce"],
                         "buckets": len(ddp.bucket_sizes())}
    if rank == 0:
        print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    sys.exit(main())
