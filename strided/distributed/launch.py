"""Starting N ranks: find ``mpiexec`` and re-run a command under it (``strided train --nproc N``).

The ``mpich`` wheel (``pip install 'strided[distributed]'``) puts an ``mpiexec`` beside the Python
executable, so a virtual environment needs no system MPI; a system MPI (Open MPI, Intel MPI, a
cluster's module) works too when mpi4py was built against it: its ``mpiexec`` is then found on PATH.
Each rank gets ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` = cores / N unless they are set:
N ranks of all-cores BLAS each would oversubscribe the machine (measured here: 2 ranks x 2 threads on
2 cores ran an epoch slower than 2 ranks x 1 thread).
"""

import os
import shutil
import sys
from pathlib import Path

__all__ = ["find_mpiexec", "mpiexec_command", "rank_environment"]

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
