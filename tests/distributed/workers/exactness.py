"""Run under ``mpiexec -n N``: data-parallel training must equal one process on the whole batch.

Rank 0 also trains a copy of the model alone on the whole global batch (the reference). Every rank
trains its share with DistributedDataParallel; rank 0 prints one ``RESULT {json}`` line with the
largest relative difference of each case, and every rank checks it holds bitwise rank 0's weights.
"""

import json
import sys

import numpy as np

import strided as st
from strided import distributed as dist

STEPS = 3
GLOBAL_BATCH = 12  # divisible by 2 and 3


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def model(dtype, batch_norm=None):
    st.manual_seed(7)
    # No conv bias before batch norm: its true gradient is 0, and Adam would turn rounding noise in it
    # into full-size steps (m / sqrt(v)), a difference of conditioning, not of the distributed sums.
    layers = [st.nn.Conv2d(2, 4, 3, padding=1, bias=batch_norm is None)]
    if batch_norm is not None:
        layers.append(batch_norm(4))
    layers += [st.nn.ReLU(), st.nn.MaxPool2d(2), st.nn.Flatten(), st.nn.Linear(4 * 3 * 3, 5)]
    return st.nn.Sequential(*layers).to(dtype)


def data(dtype, step):
    rng = np.random.default_rng([11, step])
    x = (rng.standard_normal((GLOBAL_BATCH, 2, 6, 6)) * 2 + 0.5).astype(dtype)
    return x, rng.integers(0, 5, GLOBAL_BATCH)


def optimizer(kind, params):
    if kind == "sgd":
        return st.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-3)
    return st.optim.Adam(params, lr=0.01)


def train(net, kind, dtype, shard, accumulate=1):
    """STEPS steps on the rows ``shard`` of each global batch, in ``accumulate`` backwards per step."""
    opt, loss = optimizer(kind, net.parameters()), st.nn.CrossEntropyLoss()
    for step in range(STEPS):
        x, y = data(dtype, step)
        x, y = x[shard], y[shard]
        net.zero_grad()
        pieces = np.array_split(np.arange(len(x)), accumulate)
        for number, piece in enumerate(pieces):
            sync = number == accumulate - 1 or not hasattr(net, "no_sync")
            with (net.no_sync() if not sync else _nothing()):
                out = net(x[piece])
                loss(out, y[piece])
                net.backward(loss.backward() * (len(piece) / len(x)))
        opt.step()
    return net


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def compare(case, reference, trained, results):
    """Largest relative difference over parameters and buffers, and a bitwise check across ranks."""
    ours = trained.module.state_dict()
    worst = 0.0
    if reference is not None:
        for key, value in reference.state_dict().items():
            worst = max(worst, rel_diff(ours[key], value))
    flat = np.concatenate([np.ravel(v).astype(np.float64) for v in ours.values()])
    gathered = dist.all_gather_object(flat)
    same_everywhere = all(np.array_equal(g, gathered[0]) for g in gathered)
    results[case] = {"rel": worst, "same_on_all_ranks": same_everywhere}


def main():
    dist.init_process_group()
    rank, world = dist.get_rank(), dist.get_world_size()
    shard = np.arange(GLOBAL_BATCH).reshape(world, -1)[rank]
    everything = np.arange(GLOBAL_BATCH)
    results = {}
    for dtype in (np.float64, np.float32):
        for kind in ("sgd", "adam"):
            for overlap in (True, False):
                reference = train(model(dtype), kind, dtype, everything) if rank == 0 else None
                # A tiny bucket cap makes several buckets, so the bucketing is exercised.
                ddp = dist.DistributedDataParallel(model(dtype), bucket_cap_mb=1e-4, overlap=overlap)
                compare(f"{np.dtype(dtype).name}-{kind}-overlap{overlap}", reference,
                        train(ddp, kind, dtype, shard), results)
            reference = train(model(dtype, st.nn.BatchNorm2d), kind, dtype, everything) if rank == 0 else None
            sync = st.nn.SyncBatchNorm.convert_sync_batchnorm(model(dtype, st.nn.BatchNorm2d))
            compare(f"{np.dtype(dtype).name}-{kind}-syncbn", reference,
                    train(dist.DistributedDataParallel(sync), kind, dtype, shard), results)
        reference = train(model(dtype), "sgd", dtype, everything) if rank == 0 else None
        ddp = dist.DistributedDataParallel(model(dtype))
        compare(f"{np.dtype(dtype).name}-sgd-no_sync", reference, train(ddp, "sgd", dtype, shard, accumulate=2),
                results)
    results["syncbn_step"] = syncbn_one_step(rank, world, shard)
    results["collectives"] = collectives(rank, world)
    results["world"] = world
    if rank == 0:
        print("RESULT " + json.dumps(results), flush=True)


def syncbn_one_step(rank, world, shard):
    """One SyncBatchNorm forward and backward against BatchNorm2d on the whole batch, float64."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((GLOBAL_BATCH, 3, 4, 5)) * 3 + 10  # |mean| >> std: needs the two-pass variance
    g = rng.standard_normal(x.shape)
    bn = st.nn.BatchNorm2d(3, dtype=np.float64)
    bn.weight.data[:] = [0.5, 2.0, -1.0]
    sync = st.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    y_ref = bn(x)
    dx_ref = bn.backward(g)
    y = sync(x[shard])
    dx = sync.backward(g[shard] * world)  # each rank's loss is the mean over its share: N times larger
    ys, dxs = dist.all_gather_object(y), dist.all_gather_object(dx / world)
    dweight = sync.weight.grad.copy()
    dist.all_reduce(dweight, op=dist.ReduceOp.AVG)
    return {"y": rel_diff(np.concatenate(ys), y_ref), "dx": rel_diff(np.concatenate(dxs), dx_ref),
            "dweight": rel_diff(dweight, bn.weight.grad),
            "running_var": rel_diff(sync.running_var, bn.running_var)}


def collectives(rank, world):
    a = np.full(3, rank + 1.0)
    dist.all_reduce(a)
    b = np.full(2, float(rank))
    dist.all_reduce(b, op=dist.ReduceOp.MAX)
    c = np.arange(4.0) * (rank == 1 % world)
    dist.broadcast(c, src=1 % world)
    dist.barrier()
    return {"sum": a.tolist(), "max": b.tolist(), "broadcast": c.tolist(),
            "ranks": dist.all_gather_object(rank)}


if __name__ == "__main__":
    sys.exit(main())
