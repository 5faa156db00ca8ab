"""DistributedDataParallel and SyncBatchNorm under real ``mpiexec -n 2`` and ``-n 3``: exact to one process.

The worker (workers/exactness.py) trains the same model for 3 steps of SGD (momentum, weight decay) and
Adam, with and without overlapped bucket allreduce, with SyncBatchNorm, and with no_sync accumulation,
each rank on its share of a global batch of 12, and compares with one process on the whole batch.
"""

import pytest

from tests.distributed.mpirun import WORKERS, result_of, run_mpi

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}


@pytest.mark.parametrize("nproc", [2, 3])
def test_data_parallel_training_equals_one_process(nproc):
    results = result_of(run_mpi(nproc, [WORKERS / "exactness.py"], timeout=120))
    assert results["world"] == nproc
    cases = {k: v for k, v in results.items() if k.startswith("float")}
    assert len(cases) == 14
    for case, outcome in cases.items():
        tol = TOLERANCE[case.split("-")[0]]
        assert outcome["rel"] <= tol, f"{case}: relative difference {outcome['rel']:.3e} > {tol:.0e}"
        assert outcome["same_on_all_ranks"], f"{case}: the ranks' weights differ"
    for what, value in results["syncbn_step"].items():
        assert value <= 1e-12, f"SyncBatchNorm {what}: relative difference {value:.3e} against BatchNorm2d"
    collectives = results["collectives"]
    assert collectives["sum"] == [nproc * (nproc + 1) / 2] * 3
    assert collectives["max"] == [nproc - 1.0] * 2
    assert collectives["broadcast"] == [0.0, 1.0, 2.0, 3.0]
    assert collectives["ranks"] == list(range(nproc))
