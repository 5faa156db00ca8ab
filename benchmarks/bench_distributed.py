"""Scale-out measurements on this machine: allreduce bandwidth, a data-parallel epoch, the pipeline bubble.

    python benchmarks/bench_distributed.py allreduce [--nproc 2 3]      # MB/s over bucket sizes
    python benchmarks/bench_distributed.py epoch [--train 12000 --epochs 3 --runs 1x2 2x1 1x1]
    python benchmarks/bench_distributed.py pipeline [--nproc 2]         # bubble for M = 1, 4, 16
    python benchmarks/bench_distributed.py overlap                      # DDP overlap on / off
    python benchmarks/bench_distributed.py model [--measured FILE]     # ring-allreduce cost model + plot

Each part starts its own ``mpiexec -n N`` of this file with ``--worker PART``; rank 0 prints one JSON
line per measurement. ``epoch`` compares 1 rank x 2 BLAS threads (batch 128) with 2 ranks x 1 thread
(batch 64 each, SyncBatchNorm: the same global batch and the same math) on the Fashion-MNIST CNN of
accuracy_fmnist.py, on the first ``--train`` training images (the full 60,000 when it fits), tested
on the 10,000 test images. The machine is shared: record ``uptime`` beside the figures.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import strided as st  # noqa: E402
from strided import distributed as dist  # noqa: E402
from strided.distributed.launch import find_mpiexec  # noqa: E402

SIZES_BYTES = [4 << 10, 64 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20]
FMNIST = ROOT.parent / "shared" / "data" / "fashion-mnist"
if not FMNIST.is_dir():
    FMNIST = Path("/work/shared/data/fashion-mnist")


def launch(nproc: int, part: str, extra: list, threads: int = 1) -> list:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               PYTHONPATH=str(ROOT))
    command = [find_mpiexec(), "-n", str(nproc), sys.executable, __file__, "--worker", part, *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode:
        raise SystemExit(f"{part} on {nproc} ranks failed:\n{done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def median_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    # The slowest rank decides: take each repeat's maximum over ranks, then the median.
    slowest = np.max(np.array(dist.all_gather_object(times)), axis=0)
    return float(np.median(slowest))


# ----------------------------------------------------------------- workers (run under mpiexec)
def worker_allreduce(args) -> None:
    from mpi4py import MPI

    world, comm = dist.get_world_size(), dist.process_group._world.comm
    for size in SIZES_BYTES:
        buffer = np.ones(size // 4, np.float32)
        repeats = max(5, min(50, (64 << 20) // size))
        seconds = median_time(lambda buffer=buffer: dist.all_reduce(buffer), repeats)
        # MPI's blocking Allreduce (it spins while waiting) beside strided's sleeping poll, for comparison.
        blocking = median_time(lambda buffer=buffer: comm.Allreduce(MPI.IN_PLACE, buffer), repeats)
        if dist.get_rank() == 0:
            print(json.dumps({"part": "allreduce", "ranks": world, "bytes": size, "seconds": seconds,
                              "blocking_seconds": blocking,
                              "MB_per_s": size / seconds / 1e6,
                              "bus_MB_per_s": 2 * (world - 1) / world * size / seconds / 1e6}), flush=True)


def fmnist_model():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from accuracy_fmnist import build_model

    return build_model(st.nn)


def worker_epoch(args) -> None:
    from strided.data import ArrayDataset, DataLoader, DistributedSampler, FashionMNIST, Subset

    world, rank = dist.get_world_size(), dist.get_rank()
    st.manual_seed(0)
    model = fmnist_model()
    if world > 1:
        model = st.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    st.manual_seed(1 + rank)
    train = Subset(FashionMNIST(FMNIST, train=True), list(range(args.train)))
    test = FashionMNIST(FMNIST, train=False)
    images, labels = train[:len(train)]
    mean, std = float(images.mean()) / 255, float(images.std()) / 255
    T = st.data.transforms
    normalise = T.Compose([T.ToFloat(), T.Normalize([mean], [std])])
    train = ArrayDataset(images, labels)
    batch = 128 // world
    sampler = DistributedSampler(train, seed=0) if world > 1 else None
    loader = DataLoader(train, batch, shuffle=world == 1, sampler=sampler, seed=0, transform=normalise)
    test_loader = DataLoader(test, 500, transform=normalise,
                             sampler=DistributedSampler(test, shuffle=False) if world > 1 else None)
    net = dist.DistributedDataParallel(model) if world > 1 else model
    optimizer = st.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    trainer = st.train.Trainer(net, optimizer, st.nn.CrossEntropyLoss(label_smoothing=0.1), verbose=0)
    epochs = []
    for epoch in range(args.epochs):
        communication = getattr(net, "communication_seconds", 0.0)
        record = trainer.fit(loader, epochs=epoch + 1)[-1]
        communication = getattr(net, "communication_seconds", 0.0) - communication
        result = trainer.evaluate(test_loader)
        epochs.append({"epoch": epoch + 1, "train_seconds": record["time"], "communication_seconds": communication,
                       "loss": record["loss"], "test_accuracy": result["accuracy"]})
    if rank == 0:
        print(json.dumps({"part": "epoch", "ranks": world, "threads": int(os.environ["OPENBLAS_NUM_THREADS"]),
                          "train_images": args.train, "epochs": epochs}), flush=True)


def stage_block(width: int):
    return [st.nn.Linear(width, width), st.nn.Tanh(), st.nn.Linear(width, width), st.nn.Tanh()]


def worker_pipeline(args) -> None:
    world = dist.get_world_size()
    width, batch = 512, 1024  # micro-batches of 64 rows at M = 16: compute, not message latency, dominates
    for micro in (1, 4, 16):
        st.manual_seed(0)
        layers = [layer for _ in range(world) for layer in stage_block(width)]
        pipe = dist.Pipeline(st.nn.Sequential(*layers), micro_batches=micro, schedule=args.schedule)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, width)).astype(np.float32)
        y = rng.standard_normal((batch, width)).astype(np.float32)
        fractions = []
        for _ in range(args.repeats):
            pipe.zero_grad()
            pipe.step(x, y, st.nn.MSELoss())
            timing = pipe.last_timing
            fractions.append(1 - timing["busy"] / timing["total"])
        per_rank = dist.all_gather_object(float(np.median(fractions)))
        if dist.get_rank() == 0:
            print(json.dumps({"part": "pipeline", "ranks": world, "micro_batches": micro, "schedule": args.schedule,
                              "bubble_per_rank": per_rank, "bubble": float(np.mean(per_rank)),
                              "theory": (world - 1) / (micro + world - 1)}), flush=True)


def worker_overlap(args) -> None:
    from strided.models import build_model

    world = dist.get_world_size()
    st.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((32 // world, 3, 32, 32)).astype(np.float32)
    y = np.arange(len(x)) % 10
    loss = st.nn.CrossEntropyLoss()
    for overlap in (False, True, False, True):
        net = dist.DistributedDataParallel(build_model("resnet_cifar", num_classes=10), overlap=overlap,
                                           bucket_cap_mb=args.bucket_mb)

        def step(net=net):
            net.zero_grad()
            loss(net(x), y)
            net.backward(loss.backward())

        step()
        seconds = median_time(step, args.repeats)
        if dist.get_rank() == 0:
            print(json.dumps({"part": "overlap", "ranks": world, "overlap": overlap, "bucket_mb": args.bucket_mb,
                              "buckets": len(net.bucket_sizes()), "step_seconds": seconds}), flush=True)


# ----------------------------------------------------------------- the ring-allreduce cost model
# Gradient bytes (float32) and the compute time of one training step at 32 images per node: resnet_cifar's
# is measured (RESULTS.md, issue 4: 97.3 ms); resnet18's (224x224) is that scaled by the ratio of their
# multiply-adds per image, 1.82 G / 41 M (an estimate, not a measurement).
MODELS = {"resnet_cifar": {"params": 272_474, "step_s": 0.0973},
          "resnet18": {"params": 11_689_512, "step_s": 0.0973 * 1.82e9 / 41e6}}
LATENCY_S = 10e-6  # per message on a cluster network (assumed; 1-2 us on InfiniBand, 10-50 us on TCP)


def ring_allreduce_seconds(nbytes: float, nodes: int, bytes_per_s: float, latency_s: float = LATENCY_S) -> float:
    """Ring allreduce: 2(N-1) steps (reduce-scatter then all-gather), each moving nbytes/N and paying one latency."""
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) / nodes * nbytes / bytes_per_s + 2 * (nodes - 1) * latency_s


def cost_model(measured_path: str | None) -> None:
    """Print the predicted step times and write docs/figures/distributed_scaling.png; fit the model to
    the 2-rank allreduce measurements and predict the 3-rank ones (``--measured allreduce.jsonl``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nodes = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, (name, spec) in zip(axes, MODELS.items(), strict=True):
        nbytes = 4 * spec["params"]
        for gbit, style in ((10, "-"), (100, "--")):
            comm = np.array([ring_allreduce_seconds(nbytes, n, gbit * 1e9 / 8) for n in nodes])
            efficiency = spec["step_s"] / (spec["step_s"] + comm)
            axis.plot(nodes, efficiency, style, marker="o", label=f"{gbit} Gb/s, no overlap")
            overlapped = spec["step_s"] / np.maximum(spec["step_s"], comm)
            axis.plot(nodes, overlapped, style, alpha=0.5, label=f"{gbit} Gb/s, full overlap")
            for n in (8, 64, 512):
                c = ring_allreduce_seconds(nbytes, n, gbit * 1e9 / 8)
                print(json.dumps({"part": "model", "model": name, "nodes": n, "gbit_per_s": gbit,
                                  "gradient_MB": nbytes / 1e6, "compute_s": spec["step_s"], "allreduce_s": c,
                                  "step_s_no_overlap": spec["step_s"] + c,
                                  "efficiency_no_overlap": spec["step_s"] / (spec["step_s"] + c)}))
        fast = spec["step_s"] / 100  # an engine 100 times faster (a GPU): where the network starts to matter
        comm = np.array([ring_allreduce_seconds(nbytes, n, 10e9 / 8) for n in nodes])
        axis.plot(nodes, fast / (fast + comm), ":", marker="s", label="10 Gb/s, compute 100x faster")
        axis.set_xscale("log", base=2)
        axis.set_title(f"{name}: {nbytes / 1e6:.1f} MB of gradients, 32 images per node")
        axis.set_xlabel("nodes")
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("scaling efficiency = compute / step time")
    axes[0].legend(fontsize=8)
    axes[0].set_ylim(0, 1.02)
    figure.tight_layout()
    out = ROOT / "docs" / "figures" / "distributed_scaling.png"
    figure.savefig(out, dpi=110)
    print(json.dumps({"figure": str(out.relative_to(ROOT))}))
    if measured_path:
        rows = [json.loads(line) for line in Path(measured_path).read_text().splitlines() if '"allreduce"' in line]
        two = [r for r in rows if r["ranks"] == 2]
        # T = 2(N-1)/N * S * beta + 2(N-1) * alpha, least squares of the RELATIVE error on the 2-rank sizes
        # (each row divided by its time; plain least squares lets the 64 MB point decide alone).
        times = np.array([r["seconds"] for r in two])
        design = np.array([[2 * (2 - 1) / 2 * r["bytes"], 2 * (2 - 1)] for r in two]) / times[:, None]
        beta, alpha = np.linalg.lstsq(design, np.ones(len(two)), rcond=None)[0]
        for r in (r for r in rows if r["ranks"] == 3):
            predicted = 2 * 2 / 3 * r["bytes"] * beta + 2 * 2 * alpha
            print(json.dumps({"part": "model-check", "ranks": 3, "bytes": r["bytes"], "measured_s": r["seconds"],
                              "predicted_s": predicted, "ratio": r["seconds"] / predicted,
                              "fitted_alpha_s": alpha, "fitted_MB_per_s": 1e-6 / beta}))


# ----------------------------------------------------------------- driver
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["allreduce", "epoch", "pipeline", "overlap", "model"])
    parser.add_argument("--measured", help="for 'model': the JSON lines of an 'allreduce' run, to check the model")
    parser.add_argument("--worker")
    parser.add_argument("--nproc", type=int, nargs="+", default=None)
    parser.add_argument("--train", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--schedule", default="gpipe")
    parser.add_argument("--bucket-mb", type=float, default=0.25)
    parser.add_argument("--runs", nargs="+", default=["1x2", "2x1"], help="for 'epoch': RANKSxTHREADS settings")
    args = parser.parse_args()
    if args.worker:
        dist.init_process_group()
        globals()[f"worker_{args.worker}"](args)
        return 0
    if args.part == "model":
        cost_model(args.measured)
        return 0
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}))
    forwarded = ["--train", str(args.train), "--epochs", str(args.epochs), "--repeats", str(args.repeats),
                 "--schedule", args.schedule, "--bucket-mb", str(args.bucket_mb)]
    if args.part == "epoch":
        runs = [tuple(int(v) for v in run.split("x")) for run in args.runs]
    else:
        runs = [(n, 1) for n in (args.nproc or ([2, 3] if args.part == "allreduce" else [2]))]
    for nproc, threads in runs:
        for line in launch(nproc, args.part, forwarded, threads):
            print(json.dumps(line), flush=True)
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
