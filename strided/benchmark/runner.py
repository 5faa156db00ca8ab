"""`strided bench`: time strided against PyTorch on the same networks, each library in its own fresh process.

Method. For each case and each of ``--rounds`` rounds, every library runs once in a new Python process
(worker.py) that builds the case, runs a few uncounted warm-up steps, times ``--repeats`` steps and
reports their median. The order alternates from round to round (strided then PyTorch, then PyTorch then
strided, ...; with a baseline tree the three take turns), so that a drift in the machine's load falls on
both. A fresh process per measurement means that neither library's imports, memory or spinning worker
threads touch the other's timing. Each library gets ``--threads`` threads (2 by default): OpenMP and BLAS
through their environment variables in that process alone, PyTorch through torch.set_num_threads and
strided's products through BLAS's variables (its own data-movement pool, st.set_num_threads, stays at
the tree's default). summary.py says how the rounds become figures.

Also measured, each in its own processes: every 3x3 conv layer's GFLOP/s (layers.py), the peak memory of
a resnet-cifar training step, and the float32 matrix-product rate; and recorded: the CPU, its vector
flags, the cores, the load, and each library's version, BLAS and kernels (machine.py, worker.py info).

``--strided-path DIR`` times the strided of another source tree, ``--baseline-path DIR`` adds one more
tree as a "baseline" column: the same harness then compares two versions of strided and PyTorch at once.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import strided as st

from ..io.atomic import atomic_write_bytes
from . import summary
from .blocks import alternate_in_blocks, ratio_row  # noqa: F401  (benchmarks/bench_conv.py, bench_pool.py use them)
from .cases import CASES, MEMORY_TARGET, TARGETS, build_strided
from .layers import conv_layers
from .machine import load_average, machine_header
from .report import print_report

WORKER = Path(__file__).resolve().with_name("worker.py")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CHILD_TIMEOUT_S = 1800  # one process times one case; far longer means it hangs
TORCH_HINT = ("strided bench compares against PyTorch, which is not installed: "
              "pip install torch --index-url https://download.pytorch.org/whl/cpu (the CPU build)")


class BenchError(Exception):
    """A benchmark that cannot go on: the message is the one line the user sees."""


@dataclass(frozen=True)
class Variant:
    """One column of the results: ``library`` ('strided' or 'torch') run with ``path`` first on PYTHONPATH."""

    label: str
    library: str
    path: str


def source_tree(path: str, option: str) -> str:
    """``path`` as an absolute folder that holds a strided package, else a BenchError naming ``option``."""
    root = Path(path).expanduser().resolve()
    if not (root / "strided" / "__init__.py").is_file():
        raise BenchError(f"{option} {path}: expected a source tree with strided/__init__.py in it, found none")
    return str(root)


def child_env(variant: Variant, threads: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [variant.path, env.get("PYTHONPATH")]))
    env.update({name: str(threads) for name in THREAD_VARIABLES})
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def run_child(variant: Variant, kind: str, threads: int, **options) -> dict:
    """Run worker.py ``kind`` for ``variant`` in a fresh process; its one JSON line as a dict."""
    command = [sys.executable, str(WORKER), kind, variant.library, "--threads", str(threads)]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", value if isinstance(value, str) else json.dumps(value)]
    what = f"the {variant.label} process ({kind}{' ' + options['case'] if 'case' in options else ''})"
    try:
        done = subprocess.run(command, env=child_env(variant, threads), capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what} did not finish within {CHILD_TIMEOUT_S} s") from None
    if done.returncode:
        raise BenchError(f"{what} failed (exit {done.returncode}): {_last_line(done.stderr)}")
    try:
        return json.loads(_last_line(done.stdout))
    except json.JSONDecodeError:
        raise BenchError(f"{what} printed no JSON result: {_last_line(done.stdout)}") from None


def round_order(variants: list, round_index: int) -> list:
    """The order of the processes in round ``round_index``: the variants rotated by one each round."""
    shift = round_index % len(variants)
    return variants[shift:] + variants[:shift]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def describe_libraries(variants: list, threads: int) -> dict:
    """Each variant's worker ``info``; checks that a strided child imported strided from its own tree."""
    libraries = {}
    for variant in variants:
        info = run_child(variant, "info", threads)
        if variant.library == "strided" and not Path(info["strided_file"]).is_relative_to(variant.path):
            raise BenchError(f"the {variant.label} process imported strided from {info['strided_file']}, "
                             f"not from {variant.path}")
        libraries[variant.label] = {**info, "path": variant.path}
    return libraries


def time_cases(variants: list, cases, args) -> list:
    rows = []
    for case in cases:
        rounds = []
        for r in range(args.rounds):
            order = round_order(variants, r)
            results = {v.label: run_child(v, "step", args.threads, case=case, warmup=args.warmup,
                                          repeats=args.repeats) for v in order}
            rounds.append({"order": [v.label for v in order], **results})
            times = ", ".join(f"{label} {result['ms']:.2f} ms" for label, result in results.items())
            _progress(f"{case} round {r + 1}/{args.rounds}: {times} (load {' '.join(map(str, load_average()))})")
        labels = [v.label for v in variants]
        row = summary.summarize_case([{label: r[label]["ms"] for label in labels} for r in rounds], labels,
                                     TARGETS[case])
        cpu = summary.summarize_case([{label: r[label]["cpu_ms"] for label in labels} for r in rounds], labels,
                                     TARGETS[case])
        rows.append({"case": case, **row, "cpu_ms": cpu["ms"], "cpu_ratios": cpu["ratios"], "processes": rounds})
    return rows


def time_layers(variants: list, args) -> list:
    layers = conv_layers(build_strided)
    rounds = []
    for r in range(args.rounds):
        results = {v.label: run_child(v, "layers", args.threads, layers=layers, warmup=args.warmup,
                                      repeats=args.repeats)["ms"] for v in round_order(variants, r)}
        rounds.append(results)
        _progress(f"conv layers round {r + 1}/{args.rounds} done")
    labels = [v.label for v in variants]
    return [summary.summarize_layer(layer, [{label: r[label][i] for label in labels} for r in rounds], labels)
            for i, layer in enumerate(layers)]


def measure_memory(variants: list, threads: int) -> dict:
    return summary.summarize_memory({v.label: run_child(v, "memory", threads) for v in variants}, MEMORY_TARGET)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="strided bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES, metavar="CASE",
                        help=f"cases to run (default and choices: {' '.join(CASES)})")
    parser.add_argument("--rounds", type=positive_int, default=5, help="processes per library and case (default 5)")
    parser.add_argument("--repeats", type=positive_int, default=20, help="timed steps per process (default 20)")
    parser.add_argument("--warmup", type=positive_int, default=3, help="uncounted steps first (default 3)")
    parser.add_argument("--threads", type=positive_int, default=2, help="threads of each library (default 2)")
    parser.add_argument("--strided-path", metavar="DIR", help="time the strided of this source tree "
                        "(default: the strided running this command)")
    parser.add_argument("--baseline-path", metavar="DIR", help="also time the strided of this source tree, "
                        "as a 'baseline' column (e.g. main before a change)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--no-layers", action="store_true", help="skip the per-layer GFLOP/s table")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--out", metavar="FILE", help="also write the JSON result to FILE (atomically)")
    return parser


def _check_writable(out: str) -> None:
    """Fail before minutes of timing, not after, when ``out`` cannot be written."""
    folder = Path(out).resolve().parent
    while not folder.exists():
        folder = folder.parent
    if Path(out).is_dir() or not os.access(folder, os.W_OK):
        raise BenchError(f"--out {out}: cannot write there")


def run(args) -> dict:
    if importlib.util.find_spec("torch") is None:
        raise BenchError(TORCH_HINT)
    if args.out:
        _check_writable(args.out)
    here = str(Path(st.__file__).resolve().parents[1])  # cases.py's `import strided` in the PyTorch processes
    variants = [Variant("strided", "strided", source_tree(args.strided_path, "--strided-path")
                        if args.strided_path else here)]
    if args.baseline_path:
        variants.append(Variant("baseline", "strided", source_tree(args.baseline_path, "--baseline-path")))
    variants.append(Variant("torch", "torch", here))
    header = {**machine_header(), "threads": args.threads, "rounds": args.rounds, "repeats": args.repeats,
              "warmup": args.warmup, "libraries": describe_libraries(variants, args.threads)}
    result = {"header": header, "cases": time_cases(variants, args.cases, args)}
    if not args.no_layers:
        result["layers"] = time_layers(variants, args)
    if not args.no_memory:
        result["memory"] = measure_memory(variants, args.threads)
    header["load_end"] = load_average()
    return result


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = run(args)
        if args.out:
            atomic_write_bytes(args.out, (json.dumps(result, indent=2) + "\n").encode())
    except (BenchError, OSError) as error:
        print(f"strided bench: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("strided bench: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
