"""The machine a benchmark ran on, as far as it bears on the figures: CPU, vector units, cores, load.

A ratio measured on one machine says little without these: the same code runs at different relative
speeds with AVX-512 or AMX (which oneDNN uses and NumPy's BLAS may not), on 2 cores or 64, on a quiet
machine or a loaded one. The libraries' versions and their BLAS come from the worker processes
themselves (worker.py ``info``), because that is what each timed process loaded.
"""

import os
import platform
from pathlib import Path

# The /proc/cpuinfo flags that decide which kernels BLAS, oneDNN and NumPy can use.
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_info(cpuinfo: str | None = None) -> dict:
    """CPU model and its VECTOR_FLAGS, from /proc/cpuinfo (``cpuinfo``: its text, for tests); else the platform's."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's; the others repeat it
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name") or platform.processor() or platform.machine() or "unknown",
            "flags": [flag for flag in VECTOR_FLAGS if flag in flags]}


def core_counts() -> dict:
    """Logical CPUs of the machine and those this process may run on (a container or taskset can hold fewer)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cores": os.cpu_count(), "usable_cores": usable}


def load_average() -> list:
    """The 1, 5 and 15-minute load averages (empty where the platform has none)."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return []


def machine_header() -> dict:
    return {**cpu_info(), **core_counts(), "platform": platform.platform(), "load_start": load_average()}
