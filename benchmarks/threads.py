"""strided with 1 against N threads (st.set_num_threads), each run in a fresh process, alternating.

    python benchmarks/threads.py [--rounds 5] [--steps 10] [--threads 2] [case ...]

Prints, per case and thread count, the median over rounds of each process's median step time (wall, and
CPU time of all threads), with the load average at the start and the end. Wall time is the figure that
counts for threads; it means little at load above the core count.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = ("seed-net", "fmnist-cnn", "resnet-cifar", "inference-b1", "inference-b256")


def one_process(case: str, threads: int, steps: int) -> dict:
    import strided as st
    from strided.benchmark.cases import build_strided

    st.set_num_threads(threads)
    run = build_strided(case)
    for _ in range(3):
        run.step()
    walls, cpus = [], []
    for _ in range(steps):
        wall, cpu = time.perf_counter(), time.process_time()
        run.step()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_process(args.child[0], int(args.child[1]), args.steps)))
        return
    print(f"load at start: {os.getloadavg()[0]:.2f}")
    for case in args.cases:
        results = {1: [], args.threads: []}
        for _ in range(args.rounds):
            for threads in results:
                out = subprocess.run([sys.executable, __file__, "--steps", str(args.steps), "--child", case,
                                      str(threads)], capture_output=True, text=True, check=True).stdout
                results[threads].append(json.loads(out))
        line = [f"{case:15s}"]
        for threads, runs in results.items():
            wall = statistics.median(r["wall"] for r in runs) * 1e3
            cpu = statistics.median(r["cpu"] for r in runs) * 1e3
            line.append(f"{threads} thread(s): wall {wall:8.2f} ms, cpu {cpu:8.2f} ms")
        walls = [statistics.median(r["wall"] for r in runs) for runs in results.values()]
        line.append(f"speed-up {walls[0] / walls[1]:.2f}x")
        print(" | ".join(line), flush=True)
    print(f"load at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
