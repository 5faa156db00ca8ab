"""One child process of `strided bench`: one measurement of one library, printed as one JSON line.

    python strided/benchmark/worker.py KIND LIBRARY [--case NAME] [--threads N] [--warmup W] [--repeats R]
                                       [--layers JSON] [--matmul-size N]

KIND is what to measure, LIBRARY 'strided' or 'torch':
  step    build ``--case`` (cases.py), run ``--warmup`` uncounted steps, then ``--repeats`` timed ones:
          {"ms": median wall ms, "cpu_ms": median CPU ms of the process (all its threads), "steps": [...]}
  layers  each conv of ``--layers`` (JSON, from layers.conv_layers) alone, the same way: {"ms": [...]}
  memory  three training steps of the memory case: peak resident memory and its growth over the built model
  info    what this process runs on: versions, where strided was imported from, BLAS and its threads
          (threadpoolctl), PyTorch's build (oneDNN, MKL), and for strided the float32 matmul rate

The parent (runner.py) starts this file by its path, with PYTHONPATH pointing at the source tree whose
``strided`` is to be timed and the OpenMP/BLAS thread variables set for this process alone. So that the
same cases run against any tree, cases.py and layers.py are loaded from beside this file by their paths,
and nothing of ``strided.benchmark`` is imported. A failure ends the process with Python's traceback;
the parent reports its last line.
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if sys.path and Path(sys.path[0] or ".").resolve() == HERE:
    del sys.path[0]  # Python put this folder first; its files must not shadow top-level modules of the tree
MATMUL_SIZE, MATMUL_REPEATS = 1024, 10
MEMORY_STEPS = 3


def load(name: str):
    """cases.py or layers.py from beside this file, without importing the strided.benchmark package."""
    spec = importlib.util.spec_from_file_location(f"strided_bench_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def set_threads(library: str, threads: int):
    """The library's own thread setting (the environment already holds OpenMP's and BLAS's)."""
    # strided's products run on BLAS's threads (set from the environment); its own pool for the data
    # movement (st.set_num_threads) stays at the tree's default, the configuration users get (the pool was
    # measured slower than BLAS's own threads on 2 idle cores: docs/threads.md).
    if library == "torch":
        import torch

        torch.set_num_threads(threads)


def time_steps(step, warmup: int, repeats: int) -> dict:
    """Median wall and CPU milliseconds of ``repeats`` calls of ``step`` after ``warmup`` uncounted ones."""
    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        wall.append((time.perf_counter() - start) * 1e3)
        cpu.append((time.process_time() - start_cpu) * 1e3)
    return {"ms": statistics.median(wall), "cpu_ms": statistics.median(cpu), "steps": wall}


def measure_step(library: str, case: str, warmup: int, repeats: int) -> dict:
    cases = load("cases")
    built = (cases.build_torch if library == "torch" else cases.build_strided)(case)
    return time_steps(built.step, warmup, repeats)


def measure_layers(library: str, layers: list, warmup: int, repeats: int) -> dict:
    conv = load("layers")
    return {"ms": [time_steps(conv.build_conv_step(library, layer), warmup, repeats)["ms"] for layer in layers]}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(f"/proc/self/status has no {field} (peak memory is measured on Linux only)")


def measure_memory(library: str) -> dict:
    """Peak resident memory of MEMORY_STEPS training steps: (peak, growth over the built model), in MB.

    Read from /proc/self/status (VmRSS, VmHWM) rather than ru_maxrss: Linux carries ru_maxrss over fork
    and exec, so a child of a large parent would report the parent's size. Writing "5" to
    /proc/self/clear_refs resets the high-water mark after the model is built, so the growth is what the
    steps themselves (activations, gradients, work buffers, optimizer state) add.
    """
    cases = load("cases")
    built = (cases.build_torch if library == "torch" else cases.build_strided)(cases.MEMORY_CASE)
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    for _ in range(MEMORY_STEPS):
        built.step()
    peak = _status_mb("VmHWM")
    return {"case": cases.MEMORY_CASE, "peak_mb": peak, "step_mb": peak - before, "baseline_mb": before}


def thread_pools() -> list:
    """threadpoolctl's view of the BLAS and OpenMP libraries loaded in this process, else NumPy's build."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        import numpy as np

        try:
            blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            return [{"user_api": "blas", "internal_api": blas["name"], "version": blas["version"]}]
        except Exception:  # show_config's layout differs between NumPy versions
            return []
    keys = ("user_api", "internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{key: pool[key] for key in keys if key in pool} for pool in threadpool_info()]


def torch_backend(torch) -> list:
    """The lines of torch.__config__.show() that name the kernels a CPU convolution runs on."""
    wanted = ("Math Kernel Library", "MKL-DNN", "oneDNN", "OpenMP", "CPU capability", "NNPACK")
    lines = [line.strip(" -") for line in torch.__config__.show().splitlines()]
    settings = next((line for line in lines if line.startswith("Build settings")), "")
    found = [line for line in lines if line != settings and any(word in line for word in wanted)]
    return found + [item.strip() for item in settings.split(",") if item.strip().startswith(("BLAS_INFO", "USE_MKL"))]


def matmul_gflops(size: int = MATMUL_SIZE) -> float:
    """The float32 matrix-product rate of NumPy's BLAS here: the ceiling of an im2col convolution."""
    import numpy as np

    a = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32)
    ms = time_steps(lambda: a @ a, 2, MATMUL_REPEATS)["ms"]
    return 2 * size**3 / (ms / 1e3) / 1e9


def describe(library: str, matmul_size: int = MATMUL_SIZE) -> dict:
    import numpy as np

    info = {"python": sys.version.split()[0], "numpy": np.__version__}
    if library == "torch":
        import torch

        info.update(torch=torch.__version__, threads=torch.get_num_threads(), backend=torch_backend(torch),
                    cpu_capability=torch.backends.cpu.get_cpu_capability())
    else:
        import strided as st

        info.update(strided=getattr(st, "__version__", "unknown"), strided_file=str(Path(st.__file__).resolve()),
                    threads=st.get_num_threads() if hasattr(st, "get_num_threads") else None,
                    matmul_gflops=matmul_gflops(matmul_size))
    info["thread_pools"] = thread_pools()
    return info


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=("step", "layers", "memory", "info"))
    parser.add_argument("library", choices=("strided", "torch"))
    parser.add_argument("--case")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--layers", type=json.loads, default=[])
    parser.add_argument("--matmul-size", type=int, default=MATMUL_SIZE)
    args = parser.parse_args(argv)
    set_threads(args.library, args.threads)
    if args.kind == "step":
        result = measure_step(args.library, args.case, args.warmup, args.repeats)
    elif args.kind == "layers":
        result = measure_layers(args.library, args.layers, args.warmup, args.repeats)
    elif args.kind == "memory":
        result = measure_memory(args.library)
    else:
        result = describe(args.library, args.matmul_size)
    result["load"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
