"""Gradient accumulation with the Trainer under DistributedDataParallel: no_sync() on all but the last
micro-batch of each group, so one allreduce per bucket per optimizer step, and the same float64 parameters
as one process on the global micro-batches (1e-12)."""

import pytest

from tests.distributed.mpirun import WORKERS, result_of, run_mpi

MICRO_BATCHES, STEPS = 7, 3  # groups of 3, 3 and 1 (see the worker)


@pytest.mark.parametrize("nproc", [2, 3])
def test_accumulation_syncs_once_per_step_and_equals_one_process(nproc):
    result = result_of(run_mpi(nproc, [WORKERS / "accumulation.py"], timeout=90))
    synced_per_step, synced_always = result["list"], result["generator"]
    assert synced_per_step["buckets"] > 1
    assert synced_per_step["allreduces"] == STEPS * synced_per_step["buckets"]
    # A loader without a length cannot tell which micro-batch ends the epoch: every one syncs.
    assert synced_always["allreduces"] == MICRO_BATCHES * synced_always["buckets"]
    for case in (synced_per_step, synced_always):
        assert case["error"] <= 1e-12, result
