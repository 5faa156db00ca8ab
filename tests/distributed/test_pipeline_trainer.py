"""The Trainer with a Pipeline: float64 parameters equal one process's Trainer to 1e-12 (with Adam, gradient
accumulation and clip_grad_norm), every rank logs the same values, rank 0 alone writes the whole model's
files, and --resume gives every stage its part back (bit for bit the uninterrupted run)."""

import pytest

from tests.distributed.mpirun import WORKERS, result_of, run_mpi

LOCAL = ("time", "images_per_s")  # each rank's own wall time


def logged(history):
    return [{key: value for key, value in record.items() if key not in LOCAL} for record in history]


@pytest.mark.parametrize("nproc", [2, 3])
def test_trainer_with_pipeline_equals_one_process_and_resumes(tmp_path, nproc):
    result = result_of(run_mpi(nproc, [WORKERS / "pipeline_trainer.py", tmp_path], timeout=150))
    ranks = result["ranks"]
    assert len(ranks) == nproc
    for rank in ranks:
        assert rank["stage_error"] <= 1e-12 and rank["prediction_error"] <= 1e-12, rank
        assert rank["resume_equal"]
        assert logged(rank["history"]) == logged(ranks[0]["history"])  # the same values on every rank
        assert logged(rank["resumed_history"]) == logged(ranks[0]["history"])
    for got, expected in zip(logged(ranks[0]["history"]), logged(result["reference_history"]), strict=True):
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            assert abs(got[key] - value) <= 1e-12 * abs(value), key
    assert result["model_file_error"] <= 1e-12 and result["checkpoint_error"] <= 1e-12
    assert result["checkpoint_keys_equal"] and result["optimizer_stages"] == nproc
    assert result["files"] == ["checkpoint.safetensors", "confusion_matrix.png", "history.png", "metrics.jsonl"]
    assert result["metrics_lines"] == 2  # one writer
