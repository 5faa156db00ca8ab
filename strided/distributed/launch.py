"""Starting N ranks: find ``mpiexec`` and re-run a command under it (``strided train --nproc N``).

The ``mpich`` wheel (``pip install 'strided[distributed]'``) puts an ``mpiexec`` beside the Python
executable, so a virtual environment needs no system MPI; a system MPI (Open MPI, Intel MPI, a
cluster's module) works too when mpi4py was built against it: its ``mpiexec`` is then found on PATH.
Each rank gets ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` = cores / N unless they are set:
N ranks of all-cores BLAS each would oversubscribe the machine, and OpenBLAS threads that must wait
for a core are slow (measured on 2 oversubscribed cores: a Fashion-MNIST epoch took 291 s with 2
threads, 40 s with 1; benchmarks/RESULTS.md).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .process_group import PID_DIR_VARIABLE, launched_by_mpiexec

__all__ = ["find_mpiexec", "launched_by_mpiexec", "mpiexec_command", "rank_environment", "relaunch"]

INSTALL_HINT = "pip install 'strided[distributed]'"
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (the mpich wheel's), else the first on PATH, else None."""
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("mpiexec")


def mpiexec_command(nproc: int, argv: list) -> list:
    """``[mpiexec, -n, N, *argv]``; a clear error, with the install hint, when MPI is missing."""
    if not isinstance(nproc, int) or isinstance(nproc, bool) or nproc < 1:
        raise ValueError(f"--nproc must be a positive integer, got {nproc!r}")
    try:
        import mpi4py  # noqa: F401  (each rank needs it: check before starting N of them)
    except ImportError:
        raise ImportError(f"--nproc {nproc} needs mpi4py and an MPI: {INSTALL_HINT}") from None
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError(2, f"--nproc {nproc} needs an mpiexec ({INSTALL_HINT} installs one)", "mpiexec")
    return [mpiexec, "-n", str(nproc), *argv]


def rank_environment(nproc: int, environ=None) -> dict:
    """The environment for the ranks: BLAS threads split between them unless already chosen."""
    env = dict(os.environ if environ is None else environ)
    threads = str(max(1, (os.cpu_count() or 1) // nproc))
    for name in THREAD_VARIABLES:
        env.setdefault(name, threads)
    return env


# Hydra's report of a rank that died (e.g. SIGKILL) is a dozen-line banner naming its PID, not its rank.
_LAUNCHER_NOISE = re.compile(r"^(=|\s*$|YOUR APPLICATION TERMINATED|This typically refers|Please see the FAQ|"
                             r"Abort\(\d+\) on node)")


def relaunch(nproc: int, python_args: list) -> int:
    """Run ``python python_args...`` as ``nproc`` ranks under mpiexec; return its exit code.

    The ranks' output passes through, except the launcher's multi-line failure banner, which becomes
    one line naming the rank that died (each rank records its PID in a folder this function owns).
    """
    command = mpiexec_command(nproc, [sys.executable, *python_args])
    with tempfile.TemporaryDirectory(prefix="strided-ranks-") as pid_dir:
        env = rank_environment(nproc)
        env[PID_DIR_VARIABLE] = pid_dir
        # Hydra writes its banner to stdout, MPI_Abort's note to stderr: both streams are filtered.
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   errors="replace")
        banner = []
        other = threading.Thread(target=_forward, args=(process.stderr, sys.stderr, banner), daemon=True)
        other.start()
        _forward(process.stdout, sys.stdout, banner)
        other.join()
        code = process.wait()
        if code and banner:
            report = _death_report("".join(banner), pid_dir)
            if report:
                print(f"strided: {report}; mpiexec stopped the other ranks", file=sys.stderr)
    return code


def _forward(source, target, banner: list) -> None:
    """Copy the lines of ``source`` to ``target`` as they come, keeping the launcher's banner lines aside."""
    for line in source:
        if _LAUNCHER_NOISE.match(line) and (line.strip() or banner):  # a blank line is noise only inside it
            banner.append(line)
        else:
            target.write(line)
            target.flush()


def _death_report(banner: str, pid_dir: str) -> str | None:
    pid = re.search(r"PID (\d+)", banner)
    if pid is None:
        return None
    rank_file = Path(pid_dir) / pid.group(1)
    who = f"rank {rank_file.read_text().strip()}" if rank_file.is_file() else "a rank"
    signal = re.search(r"signal (\d+)", banner)
    code = re.search(r"EXIT CODE: (\d+)", banner)
    how = f"was killed by signal {signal.group(1)}" if signal else f"exited with code {code.group(1) if code else '?'}"
    if signal and signal.group(1) == "9":  # Hydra stops the other ranks with SIGKILL too, and which of the
        # dead it names is a race: about 1 run in 4 on 2 cores named the rank it had stopped itself.
        how += " (mpiexec stops the other ranks with the same signal: this may be one it stopped)"
    return f"{who} (pid {pid.group(1)}) {how}"
