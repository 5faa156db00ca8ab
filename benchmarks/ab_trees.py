"""Time the same strided workloads from two source trees, each run in its own fresh process, alternating.

    python benchmarks/ab_trees.py /work/main . --rounds 5 --steps 5

For each case and round, tree A then tree B (then B then A in the next round) runs in a new Python process
with PYTHONPATH pointing at that tree: it builds the case, runs two warm-up steps, then times ``steps``
steps and reports the median. Prints, per case and tree, the median over rounds and the range, plus the
ratio B/A of the medians. The machine's load is printed too: on a shared machine, read ranges, not digits.
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
times = []
for _ in range(steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
print(json.dumps(sorted(times)[len(times) // 2] * 1000))
"""

CASES = ("conv-layer", "seed-net", "fmnist-cnn", "resnet-cifar", "inference-b1", "inference-b256")


def run(tree: str, case: str, steps: int) -> float:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
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
    args = parser.parse_args()
    print("load before:", os.getloadavg())
    for case in args.cases:
        times = {args.tree_a: [], args.tree_b: []}
        for r in range(args.rounds):
            order = (args.tree_a, args.tree_b) if r % 2 == 0 else (args.tree_b, args.tree_a)
            for tree in order:
                times[tree].append(run(tree, case, args.steps))
        a, b = (statistics.median(times[t]) for t in (args.tree_a, args.tree_b))
        ranges = {t: f"{min(v):.1f}-{max(v):.1f}" for t, v in times.items()}
        print(f"{case:15s} A {a:9.2f} ms [{ranges[args.tree_a]}]   B {b:9.2f} ms [{ranges[args.tree_b]}]   "
              f"B/A {b / a:.3f}   load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
