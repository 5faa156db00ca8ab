"""`strided bench`'s result as text: the header, the cases against their targets, the conv layers, memory.

Every figure is a median over rounds with its range in brackets (summary.py); ``--json`` gives the same
result whole, with every process's own figures.
"""

import re


def _range(figures: dict, fmt: str = ".2f") -> str:
    return f"[{figures['min']:{fmt}}-{figures['max']:{fmt}}]"


def _blas(pools: list) -> str:
    blas = [p for p in pools if p.get("user_api") == "blas"]
    return "; ".join(f"{p.get('internal_api')} {p.get('version') or ''} ({p.get('architecture', '?')}, "
                     f"{p.get('num_threads', '?')} threads)" for p in blas) or "unknown BLAS"


def _torch_backend(lines: list) -> str:
    """'oneDNN v3.12.0, MKL 2024.2, AVX2' from torch.__config__.show()'s lines (worker.torch_backend)."""
    short = []
    for line in lines:
        if match := re.search(r"(MKL-DNN|oneDNN) (v[\d.]+)", line):
            short.append(f"oneDNN {match.group(2)}")
        elif match := re.search(r"Math Kernel Library Version ([\d.]+)", line):
            short.append(f"MKL {match.group(1)}")
        elif line.startswith("CPU capability usage:"):
            short.append(line.split(":", 1)[1].strip())
    return ", ".join(short) or "unknown kernels"


def header_lines(header: dict) -> list:
    libraries = header["libraries"]
    ours, torch = libraries["strided"], libraries["torch"]
    lines = [
        f"strided bench: {header['rounds']} rounds; each library in its own fresh process per case and round, "
        f"in alternating order; {header['threads']} threads each; {header['warmup']} warm-up + "
        f"{header['repeats']} timed steps per process",
        f"CPU: {header['cpu']}, {header['cores']} cores ({header['usable_cores']} usable); flags: "
        f"{' '.join(header['flags']) or 'none known'}; load {' '.join(map(str, header['load_start']))} at start, "
        f"{' '.join(map(str, header.get('load_end', [])))} at end",
        f"NumPy {ours['numpy']}, BLAS {_blas(ours['thread_pools'])}; float32 matmul {ours['matmul_gflops']:.0f} "
        f"GFLOP/s",
        f"PyTorch {torch['torch']} ({torch['threads']} threads): {_torch_backend(torch['backend'])}",
    ]
    for label, info in libraries.items():
        if label != "torch":
            lines.append(f"{label} = strided {info['strided']} from {info['path']} "
                         f"(st.set_num_threads: {'yes' if info['threads'] is not None else 'absent'})")
    return lines


def _cell(figures: dict, value: float, fmt: str = ".2f", width: int = 26) -> str:
    """'12.30 [11.90-13.00]', right-aligned in ``width``."""
    return f"{value:{fmt}} {_range(figures, fmt)}".rjust(width)


def case_lines(cases: list) -> list:
    if not cases:
        return []
    labels, pairs = list(cases[0]["ms"]), list(cases[0]["ratios"])
    lines = ["median [range] over rounds; a ratio's range is that of the per-round ratios",
             f"{'case':<16}" + "".join(f"{label + ' ms':>26}" for label in labels)
             + "".join(f"{pair:>26}" for pair in pairs) + "  target (strided/torch)"]
    for row in cases:
        lines.append(f"{row['case']:<16}"
                     + "".join(_cell(row["ms"][label], row["ms"][label]["median"]) for label in labels)
                     + "".join(_cell(row["ratios"][pair], row["ratios"][pair]["ratio"]) for pair in pairs)
                     + f"  <= {row['target']} {'ok' if row['met'] else 'MISSED'}")
    return lines


def layer_lines(layers: list, matmul_gflops: float) -> list:
    if not layers:
        return []
    labels = list(layers[0]["gflops"])
    lines = [f"3x3 conv layers alone, forward + both gradients, GFLOP/s counting direct-algorithm FLOPs "
             f"(float32 matmul: {matmul_gflops:.0f}):",
             f"{'layer':<44}{'conv':<14}{'input':<14}" + "".join(f"{label:>22}" for label in labels)]
    for layer in layers:
        conv = f"{layer['in_channels']}->{layer['out_channels']} /{layer['stride']}"
        rates = "".join(_cell(layer["gflops"][label], layer["gflops"][label]["gflops"], ".1f", 22) for label in labels)
        lines.append(f"{', '.join(layer['names']):<44}{conv:<14}{'x'.join(map(str, layer['shape'])):<14}{rates}")
    return lines


def memory_lines(memory: dict) -> list:
    labels = [label for label in memory if isinstance(memory[label], dict)]
    growth = ", ".join(f"{label} {memory[label]['step_mb']:.0f} MB" for label in labels)
    peak = ", ".join(f"{label} {memory[label]['peak_mb']:.0f} MB" for label in labels)
    return [f"memory, {memory['strided']['case']} training step, peak RSS growth: {growth}; strided/torch "
            f"{memory['ratio']:.2f}, target <= {memory['target']} {'ok' if memory['met'] else 'MISSED'}; "
            f"peak RSS {peak}"]


def print_report(result: dict) -> None:
    header = result["header"]
    sections = [header_lines(header), case_lines(result["cases"]),
                layer_lines(result.get("layers", []), header["libraries"]["strided"]["matmul_gflops"]),
                memory_lines(result["memory"]) if "memory" in result else []]
    print("\n\n".join("\n".join(lines) for lines in sections if lines))
