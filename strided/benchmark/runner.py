"""Time strided against PyTorch on the same networks, in the same process, and print the ratios.

Method (so that a noisy shared machine still gives a fair answer): both libraries build the same
case; after a warm-up they alternate in blocks of steps (strided, PyTorch, strided, ...), with a
pause before each block so that neither library's spinning worker threads slow the other, and the
medians are compared as a ratio. PyTorch runs with 2 threads. Peak memory is measured in a fresh
process per library (/proc/self/status), so that neither library's imports count against the other.
Each conv layer's achieved GFLOP/s is set against the machine's float32 matrix-product rate, the
practical ceiling for im2col convolution.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

import strided as st

from .cases import CASES, TARGETS, build_strided, build_torch


def _median_ms(step, repeats: int, pause: float = 0.3) -> float:
    """Median ms of ``repeats`` steps in a row, after a pause and one uncounted step (see ``compare``)."""
    time.sleep(pause)
    step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def alternate_in_blocks(steps, repeats: int = 30, block: int = 5, pause: float = 0.3) -> list:
    """Median ms of each step function, run in turn in blocks of ``block`` timed calls.

    Before each block: a ``pause`` and one uncounted call; round 0 only warms up. Alternating every
    single call would measure interference instead of speed: after a call, both libraries keep their
    worker threads spinning for a while (OpenBLAS about 0.1 s), and on two cores those threads slow
    whichever library runs next (a batch-1 inference measured 3.6 ms that way takes 0.7 ms alone).
    """
    times = [[] for _ in steps]
    for round_ in range(max(1, -(-repeats // block)) + 1):
        for step, kept in zip(steps, times, strict=True):
            time.sleep(pause)
            step()  # wakes the threads; not counted
            for _ in range(block):
                start = time.perf_counter()
                step()
                if round_:
                    kept.append(time.perf_counter() - start)
    return [statistics.median(kept) * 1e3 for kept in times]


def ratio_row(steps, repeats: int = 30, **labels) -> dict:
    """One result row: ``labels``, then the medians in ms of strided's and PyTorch's step (``steps``, in that
    order, timed by ``alternate_in_blocks``) and their ratio. benchmarks/ scripts make their rows here too."""
    s, t = alternate_in_blocks(steps, repeats)
    return {**labels, "strided_ms": s, "torch_ms": t, "ratio": s / t}


def compare(name: str, repeats: int = 30) -> dict:
    """strided and PyTorch on one case (``alternate_in_blocks``): medians in ms, their ratio and the target."""
    row = ratio_row([build_strided(name).step, build_torch(name).step], repeats, case=name)
    return {**row, "target": TARGETS[name]}


def compare_runs(name: str, repeats: int = 30, runs: int = 1) -> dict:
    """``compare`` ``runs`` times, each on freshly built models: the median run (by ratio) and every ratio.

    On a shared machine one run's ratio can move by 10 to 30% with the neighbours' load; the median
    of a few runs and their range say more than any single one.
    """
    results = sorted((compare(name, repeats) for _ in range(runs)), key=lambda row: row["ratio"])
    middle = dict(results[(len(results) - 1) // 2])
    middle["ratio"] = statistics.median(row["ratio"] for row in results)
    middle["ratios"] = [row["ratio"] for row in results]
    return middle


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    """The machine's float32 matrix-product rate: the ceiling an im2col convolution can reach."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    for _ in range(2):
        a @ a
    return 2 * n**3 / (_median_ms(lambda: a @ a, repeats) / 1e3) / 1e9


def _conv_input_shapes(model, x) -> dict:
    """Run one forward and record the input shape of every Conv2d in ``model``."""
    shapes = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, st.nn.Conv2d)}

    def recorder(name, module):
        forward = module.forward

        def recording(inp):
            shapes[name] = inp.shape
            return forward(inp)

        return recording

    for name, module in convs.items():
        object.__setattr__(module, "forward", recorder(name, module))
    try:
        model(x)
    finally:
        for module in convs.values():
            del module.forward  # back to the class's forward
    return {name: (convs[name], shape) for name, shape in shapes.items()}


def _time_conv(module, shape, repeats: int) -> tuple[float, float, int]:
    """Median ms of one conv's forward + backward in strided and PyTorch, and its FLOPs."""
    import torch

    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    grad = np.ones_like(module(x))
    twin = torch.nn.Conv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                           module.padding, bias=module.bias is not None)
    xt, gt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(grad)

    def ours():
        module(x)
        module.backward(grad)

    def theirs():
        twin(xt).backward(gt)

    for _ in range(2):
        ours()
        theirs()
    kh, kw = module.kernel_size
    flops = 3 * 2 * grad.size * module.in_channels // module.groups * kh * kw  # forward + both gradients
    return _median_ms(ours, repeats), _median_ms(theirs, repeats), flops


def conv_gflops(repeats: int = 10) -> list[dict]:
    """Each conv layer of the seed-net and resnet-cifar cases, forward + both gradients, timed alone."""
    inputs = {"seed-net": (32, 1, 28, 28), "resnet-cifar": (32, 3, 32, 32)}
    rows = []
    for case, input_shape in inputs.items():
        model = build_strided(case).model
        for name, (module, shape) in _conv_input_shapes(model, np.zeros(input_shape, np.float32)).items():
            s, t, flops = _time_conv(module, shape, repeats)
            kh, kw = module.kernel_size
            rows.append({"layer": f"{case}/{name}", "shape": "x".join(map(str, shape)),
                         "conv": f"{module.in_channels}->{module.out_channels} {kh}x{kw}/{module.stride[0]}",
                         "strided_gflops": flops / s / 1e6, "torch_gflops": flops / t / 1e6})
    return rows


def peak_memory_mb(library: str, case: str = "resnet-cifar", steps: int = 3) -> dict:
    """Peak resident memory of training steps, in a fresh process: (peak, growth over the built model).

    Read from /proc/self/status (VmRSS, VmHWM) rather than ru_maxrss: Linux carries ru_maxrss over
    fork and exec, so a child of a large parent would report the parent's size. Writing "5" to
    /proc/self/clear_refs resets the high-water mark after the model is built, so the growth is what
    the steps themselves (activations, gradients, work buffers, optimizer state) add.
    """
    code = (
        "import json\n"
        "def status(field):\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith(field + ':'):\n"
        "            return int(line.split()[1]) / 1024\n"
        f"lib = {library!r}\n"
        "if lib == 'torch':\n"
        "    import torch; torch.set_num_threads(2)\n"
        "from strided.benchmark.cases import build_strided, build_torch\n"
        f"case = (build_torch if lib == 'torch' else build_strided)({case!r})\n"
        "before = status('VmRSS')\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        f"for _ in range({steps}): case.step()\n"
        "peak = status('VmHWM')\n"
        "print(json.dumps({'peak_mb': peak, 'step_mb': peak - before, 'baseline_mb': before}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def blas_info() -> str:
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas['version']}"
    except Exception:  # show_config's layout differs between NumPy versions; the rate is what matters
        return "unknown BLAS"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="strided bench", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=list(CASES), help=f"cases to run (default: {' '.join(CASES)})")
    parser.add_argument("--repeats", type=int, default=30, help="alternating timed steps per case")
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per case: the median ratio is reported, with the range (try 3 on a shared machine)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--no-layers", action="store_true", help="skip the per-layer GFLOP/s table")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.runs < 1:
        parser.error("--repeats and --runs must be at least 1")
    try:
        import torch
    except ImportError:
        print("strided bench compares against PyTorch: pip install torch (CPU build) first", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    result = {"blas": blas_info(), "matmul_gflops": matmul_gflops(), "numpy": np.__version__,
              "torch": torch.__version__, "cases": [compare_runs(c, args.repeats, args.runs) for c in args.cases]}
    if not args.no_layers:
        result["layers"] = conv_gflops()
    if not args.no_memory:
        result["memory"] = {lib: peak_memory_mb(lib) for lib in ("strided", "torch")}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"BLAS: {result['blas']}; float32 matmul: {result['matmul_gflops']:.0f} GFLOP/s; "
          f"NumPy {result['numpy']}, PyTorch {result['torch']} (2 threads)")
    print(f"\n{'case':<16}{'strided ms':>12}{'torch ms':>10}{'ratio':>8}{'target':>8}")
    for row in result["cases"]:
        ok = "ok" if row["ratio"] <= row["target"] else "MISSED"
        spread = f"  (runs {min(row['ratios']):.2f} to {max(row['ratios']):.2f})" if len(row["ratios"]) > 1 else ""
        print(f"{row['case']:<16}{row['strided_ms']:>12.2f}{row['torch_ms']:>10.2f}{row['ratio']:>8.2f}"
              f"{'<= ' + str(row['target']):>8}  {ok}{spread}")
    for row in result.get("layers", []):
        print(f"{row['layer']:<28}{row['conv']:<16}{row['shape']:<14}strided {row['strided_gflops']:6.1f} "
              f"torch {row['torch_gflops']:6.1f} GFLOP/s  ({row['strided_gflops'] / result['matmul_gflops']:.0%})")
    if "memory" in result:
        s, t = result["memory"]["strided"], result["memory"]["torch"]
        print(f"\nresnet-cifar step, peak RSS growth: strided {s['step_mb']:.0f} MB, torch {t['step_mb']:.0f} MB "
              f"(ratio {s['step_mb'] / max(t['step_mb'], 1e-9):.2f}); peak RSS strided {s['peak_mb']:.0f} MB, "
              f"torch {t['peak_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
