"""Mixed precision: memory and time of one resnet_cifar20 training step, per precision policy.

    python benchmarks/bench_amp.py [--batch 128] [--steps 3] [--precision 32|16-mixed|bf16-mixed]

Without --precision it runs each policy in its own fresh process (so one's buffers and allocator
state cannot lend memory to the next) and prints one JSON line each:

* ``peak_mib``: the largest growth of traced memory (tracemalloc: every NumPy array) during one step
  (forward, loss, backward, SGD step), over the memory in use when the step starts (model, momentum,
  batch), the kernels' buffer pool emptied first: all the memory the step needs, its work buffers
  included (float32 keeps every conv's padded input in a pooled buffer until its backward; mixed
  precision keeps a 16-bit copy and restores it into one shared scratch buffer);
* ``rss_growth_mib``: the process's peak resident memory after the warm-up and timed steps minus before
  the first step (what the OS saw, allocator and pool included);
* ``step_s``: the median time of ``--steps`` untraced steps.
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

import strided as st  # noqa: E402
from strided.functional.fast.workspace import WORKSPACE  # noqa: E402

POLICIES = ("32", "16-mixed", "bf16-mixed")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(precision: str, batch: int, steps: int) -> dict:
    st.manual_seed(0)
    model = st.models.resnet_cifar20(num_classes=10)
    optimizer = st.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = st.nn.CrossEntropyLoss()
    policy = st.amp.get_precision(precision)
    scaler = st.amp.GradScaler(enabled=policy.needs_scaler)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, batch)

    def step():
        model.zero_grad()
        with policy.autocast():
            criterion(model(x), y)
        model.backward(criterion.backward(scaler.scale(1.0)) if scaler.is_enabled() else criterion.backward())
        scaler.step(optimizer)
        scaler.update()

    before = rss_mib()
    step()  # warm-up: the momentum buffers exist
    WORKSPACE.clear()
    tracemalloc.start()
    start_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    step()
    peak_bytes = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return {"precision": precision, "batch": batch, "peak_mib": round((peak_bytes - start_bytes) / 2**20, 1),
            "rss_growth_mib": round(rss_mib() - before, 1), "step_s": round(float(np.median(times)), 3),
            "step_s_range": [round(min(times), 3), round(max(times), 3)], "scale": scaler.get_scale()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precision", choices=POLICIES)
    args = parser.parse_args()
    if args.precision:
        print(json.dumps(measure(args.precision, args.batch, args.steps)), flush=True)
        return
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}))
    for precision in POLICIES:  # each in a fresh process
        subprocess.run([sys.executable, __file__, "--precision", precision, "--batch", str(args.batch),
                        "--steps", str(args.steps)], check=True)
    print(json.dumps({"uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}))


if __name__ == "__main__":
    main()
