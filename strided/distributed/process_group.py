"""The process group: which process am I, how many are we, and the collectives, over MPI.

PyTorch's names (``init_process_group``, ``get_rank``, ``get_world_size``, ``all_reduce``,
``broadcast``, ``barrier``, ``destroy_process_group``) on top of mpi4py's COMM_WORLD. Started
without ``mpiexec`` (or without mpi4py installed) the world is one process of rank 0, and every
collective is the identity, so the same script runs alone or under ``mpiexec -n N``.

Waiting. Every collective here is MPI's non-blocking form (``Iallreduce``, ``Ibcast``, ...) finished
by ``wait``, which polls the request and sleeps between polls (1 us, doubling, at most 1 ms). Two
reasons: MPICH's blocking calls spin a core at 100% while they wait, stealing it from the rank that
still computes (measured with 3 ranks on 2 busy cores: a 64 MB allreduce took 584 ms blocking and
374 ms polling, a 4 KB one 12.1 and 5.5 ms; benchmarks/RESULTS.md); and a wait that polls can give
up. After ``timeout`` seconds (``STRIDED_DIST_TIMEOUT``, default 300) it prints one line naming this
rank and the operation, and aborts the whole job, instead of hanging forever behind a rank that
died or hangs.

Failure. ``init_process_group`` installs an exception hook: an exception no one catches on any rank
prints ``strided.distributed: rank R of N: raised TypeName: message`` (after its traceback) and calls
``MPI_Abort``, which makes ``mpiexec`` stop every other rank at once, as mpi4py's ``-m mpi4py`` does.
"""

import os
import sys
import time

import numpy as np

__all__ = [
    "ReduceOp", "all_gather_object", "all_reduce", "barrier", "broadcast", "broadcast_object",
    "destroy_process_group", "gather_object", "get_rank", "get_world_size", "init_process_group", "is_initialized",
    "wait",
]

DEFAULT_TIMEOUT_S = 300.0
FIRST_SLEEP_S = 1e-6
LONGEST_SLEEP_S = 1e-3
# MPI_Abort tears the job down at once, and with it mpiexec's forwarding of this rank's stderr: without
# a pause the one line that names the failing rank was lost in about half of the runs measured here.
ABORT_GRACE_S = 0.5
# Environment variables that a launcher sets in every rank (MPICH/Hydra, Open MPI, Slurm's PMI).
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
# Set by strided's own launcher (launch.relaunch): each rank writes its rank into a file named by its PID there,
# so that the launcher can name the rank that the launcher's banner reports dead by PID only.
PID_DIR_VARIABLE = "STRIDED_RANK_PID_DIR"


class ReduceOp:
    """Reduction operators, as ``torch.distributed.ReduceOp`` (AVG divides the sum by the world size)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"
    PRODUCT = "product"


class _World:
    """The state of the process group: the communicator (None for the one-process world)."""

    comm = None
    rank = 0
    size = 1
    initialized = False
    timeout = DEFAULT_TIMEOUT_S


_world = _World()


def launched_by_mpiexec() -> bool:
    """True when this process was started by an MPI launcher (so MPI must be initialised)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI


def init_process_group(backend: str = "mpi", timeout: float | None = None) -> None:
    """Join the MPI world (``mpiexec -n N python script.py``), or a world of one process without it.

    ``backend`` is accepted for PyTorch's signature; only 'mpi' exists. ``timeout`` (seconds) bounds
    every wait for the other ranks (default ``STRIDED_DIST_TIMEOUT`` or 300). Calling it again is a no-op.
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: backend must be 'mpi', got {backend!r}")
    if _world.initialized:
        return
    _world.timeout = float(timeout if timeout is not None else os.environ.get("STRIDED_DIST_TIMEOUT",
                                                                             DEFAULT_TIMEOUT_S))
    if not _world.timeout > 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {_world.timeout!r}")
    MPI = _mpi()
    if MPI is None:
        if launched_by_mpiexec():
            raise ImportError("strided.distributed: started by mpiexec but mpi4py is not installed: "
                              "pip install 'strided[distributed]'")
    else:
        _world.comm = MPI.COMM_WORLD
        _world.rank, _world.size = _world.comm.Get_rank(), _world.comm.Get_size()
        if _world.size > 1:
            _install_abort_on_exception()
            _record_pid()
    _world.initialized = True


def destroy_process_group() -> None:
    """Leave the group; ``get_rank()`` is 0 and ``get_world_size()`` 1 again (MPI itself ends at exit)."""
    _world.comm, _world.rank, _world.size, _world.initialized = None, 0, 1, False
    if sys.excepthook is _abort_on_exception:
        sys.excepthook = sys.__excepthook__


def is_initialized() -> bool:
    return _world.initialized


def get_rank() -> int:
    """This process's rank, 0 .. world size - 1 (0 when not initialised)."""
    return _world.rank


def get_world_size() -> int:
    """How many processes train together (1 when not initialised)."""
    return _world.size


def _communicator():
    return _world.comm if _world.size > 1 else None


# ----------------------------------------------------------------- waiting, failing
def wait(request, what: str):
    """Finish a non-blocking MPI request, sleeping between polls; abort the job after the timeout."""
    deadline = time.monotonic() + _world.timeout
    pause = FIRST_SLEEP_S
    while not request.Test():
        if time.monotonic() > deadline:
            fail(f"{what} waited {_world.timeout:g} s for the other ranks (one of them died or hangs)")
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_SLEEP_S)


def fail(message: str, code: int = 1):
    """Print one line naming this rank, then abort every rank of the job."""
    print(f"strided.distributed: rank {_world.rank} of {_world.size}: {message}; stopping all ranks",
          file=sys.stderr, flush=True)
    if _world.comm is not None:
        time.sleep(ABORT_GRACE_S)
        _world.comm.Abort(code)
    raise SystemExit(code)


def _abort_on_exception(kind, error, traceback):
    sys.__excepthook__(kind, error, traceback)
    if issubclass(kind, KeyboardInterrupt | SystemExit):
        detail = kind.__name__
    else:
        detail = f"raised {kind.__name__}: {str(error).splitlines()[0] if str(error) else ''}".rstrip(": ")
    fail(detail)


def _record_pid() -> None:
    folder = os.environ.get(PID_DIR_VARIABLE)
    if folder and os.path.isdir(folder):
        with open(os.path.join(folder, str(os.getpid())), "w") as file:
            file.write(str(_world.rank))


def _install_abort_on_exception() -> None:
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _abort_on_exception


# ----------------------------------------------------------------- collectives
def _mpi_op(op):
    MPI = _mpi()
    table = {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN,
             ReduceOp.PRODUCT: MPI.PROD}
    if op not in table:
        raise ValueError(f"all_reduce: op must be one of ReduceOp.SUM, AVG, MAX, MIN, PRODUCT, got {op!r}")
    return table[op]


def _check_buffer(array, what: str) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{what}: expected a NumPy array (reduced in place), got {type(array).__name__}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"{what}: the array must be C-contiguous and writeable to be reduced in place")
    return array


def all_reduce(array: np.ndarray, op=ReduceOp.SUM, async_op: bool = False):
    """Reduce ``array`` over all ranks, in place (every rank ends with the result), as PyTorch.

    With ``async_op=True`` returns a request to ``wait(request, what)`` on (None in a world of one);
    ReduceOp.AVG is then the caller's division to do.
    """
    _check_buffer(array, "all_reduce")
    comm = _communicator()
    if comm is None:
        return None
    MPI = _mpi()
    request = comm.Iallreduce(MPI.IN_PLACE, array, op=_mpi_op(op))
    if async_op:
        return request
    wait(request, "all_reduce")
    if op == ReduceOp.AVG:
        array /= _world.size
    return None


def broadcast(array: np.ndarray, src: int = 0) -> None:
    """Copy rank ``src``'s ``array`` into every rank's ``array``, in place."""
    _check_buffer(array, "broadcast")
    comm = _communicator()
    if comm is not None:
        wait(comm.Ibcast(array, root=src), "broadcast")


def barrier() -> None:
    """Return when every rank has called it."""
    comm = _communicator()
    if comm is not None:
        wait(comm.Ibarrier(), "barrier")


def all_gather_object(obj) -> list:
    """Every rank's ``obj`` (pickled), in rank order, on every rank: for small things like metrics."""
    comm = _communicator()
    if comm is None:
        return [obj]
    barrier()  # the pickle-based gather below blocks: wait here first, where a dead rank is noticed
    return comm.allgather(obj)


def gather_object(obj, dst: int = 0) -> list | None:
    """Every rank's ``obj`` (pickled), in rank order, on rank ``dst`` (None elsewhere): e.g. a model's stages."""
    comm = _communicator()
    if comm is None:
        return [obj]
    barrier()
    return comm.gather(obj, root=dst)


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` (pickled) on every rank."""
    comm = _communicator()
    if comm is None:
        return obj
    barrier()
    return comm.bcast(obj, root=src)
