"""Launch a worker script under a real ``mpiexec -n N`` from a test, bounded in time.

Settings that work on a loaded 2-core machine: the ranks run one BLAS thread each (OPENBLAS_NUM_THREADS=1),
and strided's collectives sleep while they wait (see strided/distributed/process_group.py), so 3 ranks on
2 cores do not starve each other. Hydra's default launcher needs nothing else here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from strided.distributed.launch import find_mpiexec

WORKERS = Path(__file__).parent / "workers"
ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("mpi4py", reason="MPI tests need mpi4py: pip install 'strided[distributed]'")
MPIEXEC = find_mpiexec()


def mpi_env(**extra) -> dict:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


def run_mpi(nproc: int, argv: list, timeout: float = 60, check: bool = True, cwd=None, **env):
    """Run ``mpiexec -n nproc python argv...``; returns the CompletedProcess (text output)."""
    if MPIEXEC is None:
        pytest.fail("mpi4py is installed but no mpiexec was found (pip install mpich)")
    command = [MPIEXEC, "-n", str(nproc), sys.executable, *map(str, argv)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=mpi_env(**env), cwd=cwd)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited with {done.returncode}\nstdout:\n{done.stdout[-3000:]}\n"
                    f"stderr:\n{done.stderr[-3000:]}")
    return done


def result_of(done) -> dict:
    """The JSON of the worker's ``RESULT {...}`` line (printed by rank 0)."""
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, f"expected one RESULT line, got:\n{done.stdout}\n{done.stderr}"
    return json.loads(lines[0][len("RESULT "):])
