"""Time the same strided workloads from two source trees, each run in its own fresh process, alternating.

    python benchmarks/ab_trees.py /work/main . --rounds 5 --steps 5

For each case and round, tree A then tree B (then B then A in the next round) runs in a new Python process
with PYTHONPATH pointing at that tree: it builds the case, runs two warm-up steps, then times ``steps``
steps and reports the median wall time and the median CPU time of the process (all threads). Prints, per
case and tree, the median over rounds and the range, plus the ratio B/A of the medians. On a shared,
loaded machine the wall time mostly measures the other tenants; the CPU time, with ``--threads 1``, much
less so. The load average is printed beside each case.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
import numpy as np
import strided as st
case, steps = sys.argv[1], int(sys.argv[2])
if case == "conv-layer":
    conv = st.nn.Conv2d(16, 32, 3, padding=1)
    x = np.random.default_rng(0).standard_normal((32, 16, 32, 32)).astype(np.float32)
    grad = np.ones((32, 32, 32, 32), np.float32)
    def step():
        conv.zero_grad()
        conv(x)
        conv.backward(grad)
else:
    from strided.benchmark.cases import build_strided
    step = build_strided(case).step
for _ in range(2):
    step()
wall, cpu = [], []
for _ in range(steps):
    start, start_cpu = time.perf_counter(), time.process_time()
    step()
    wall.append(time.perf_counter() - start)
    cpu.append(time.process_time() - start_cpu)
print(json.dumps([sorted(wall)[len(wall) // 2] * 1000, sorted(cpu)[len(cpu) // 2] * 1000]))
"""

CASES = ("conv-layer", "seed-net", "fmnist-cnn", "resnet-cifar", "inference-b1", "inference-b256")


def run(tree: str, case: str, steps: int, threads: int | None) -> list:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    if threads:
        env.update({name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(steps)], env=env, capture_output=True, text=True,
                         check=True, cwd=os.path.abspath(tree))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree_a")
    parser.add_argument("tree_b")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--threads", type=int, default=None, help="BLAS/OpenMP threads of each process")
    args = parser.parse_args()
    print("load before:", os.getloadavg())
    for case in args.cases:
        times = {args.tree_a: [], args.tree_b: []}
        for r in range(args.rounds):
            order = (args.tree_a, args.tree_b) if r % 2 == 0 else (args.tree_b, args.tree_a)
            for tree in order:
                times[tree].append(run(tree, case, args.steps, args.threads))
        for k, kind in enumerate(("wall", "cpu")):
            a, b = (statistics.median(x[k] for x in times[t]) for t in (args.tree_a, args.tree_b))
            ranges = {t: f"{min(x[k] for x in v):.1f}-{max(x[k] for x in v):.1f}" for t, v in times.items()}
            print(f"{case:15s} {kind:4s} A {a:9.2f} ms [{ranges[args.tree_a]}]   B {b:9.2f} ms "
                  f"[{ranges[args.tree_b]}]   B/A {b / a:.3f}   load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
