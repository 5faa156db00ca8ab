"""The Trainer and `strided train` under mpiexec: rank 0 alone writes, metrics are reduced over ranks, and
a run whose rank 1 was SIGKILLed resumes to exactly the weights of an uninterrupted run."""

import json
import subprocess
import sys

import numpy as np

import strided as st
from tests.distributed.mpirun import ROOT, WORKERS, mpi_env, result_of, run_mpi


def test_resume_after_sigkill_of_one_rank_ends_with_the_uninterrupted_weights(tmp_path):
    worker = WORKERS / "trainer.py"
    full = result_of(run_mpi(2, [worker, tmp_path / "full", "full", tmp_path / "full.npz"], cwd=ROOT))
    killed = run_mpi(2, [worker, tmp_path / "run", "kill", tmp_path / "run.npz"], check=False, cwd=ROOT)
    assert killed.returncode != 0 and not (tmp_path / "run.npz").exists()
    resumed = result_of(run_mpi(2, [worker, tmp_path / "run", "resume", tmp_path / "run.npz"], cwd=ROOT))
    expected, got = np.load(tmp_path / "full.npz"), np.load(tmp_path / "run.npz")
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)
    assert [r["epoch"] for r in resumed["history"]] == [1, 2, 3]
    # Validation over both ranks' shares equals rank 0 alone on the whole validation set.
    last = full["history"][-1]
    assert abs(last["val_loss"] - full["val_loss"]) <= 1e-12 * full["val_loss"]
    assert last["val_accuracy"] == full["val_accuracy"]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]  # one writer, no duplicates
    assert sorted(p.name for p in (tmp_path / "full").iterdir()) == [
        "checkpoint.safetensors", "confusion_matrix.png", "history.png", "metrics.jsonl"]


def test_strided_train_nproc_2_with_sync_bn(tmp_path):
    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "strided", "train", "--nproc", "2", "--sync-bn", "--epochs", "1",
                           "--model", "lenet5", "--batch-size", "128", "--out", str(out), "--quiet"],
                          capture_output=True, text=True, timeout=180, env=mpi_env(), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("saved ") == 1, done.stdout  # rank 0 alone reports
    assert json.loads((out / "config.json").read_text())["sync_bn"] is True
    model = st.load(out / "model.safetensors")
    assert model(np.zeros((1, 1, 28, 28), np.float32)).shape == (1, 10)


def test_checkpoints_hold_the_bare_model_so_they_resume_on_any_number_of_ranks(tmp_path):
    from tests.train.tiny import tiny_cnn, tiny_data

    x, y = tiny_data(16)
    st.manual_seed(0)
    wrapped = st.distributed.DistributedDataParallel(tiny_cnn())
    trainer = st.train.Trainer(wrapped, st.optim.SGD(wrapped.parameters(), lr=0.1), st.nn.CrossEntropyLoss(),
                               verbose=0)
    trainer.fit([(x, y)], epochs=1, checkpoint_path=tmp_path / "c.safetensors")
    plain = tiny_cnn()
    resumed = st.train.Trainer(plain, st.optim.SGD(plain.parameters(), lr=0.1), st.nn.CrossEntropyLoss(), verbose=0)
    resumed.load_checkpoint(tmp_path / "c.safetensors")
    for key, value in wrapped.module.state_dict().items():
        np.testing.assert_array_equal(plain.state_dict()[key], value)


def test_strided_train_nproc_errors_are_one_line(tmp_path):
    def train(*flags):
        return subprocess.run([sys.executable, "-m", "strided", "train", *flags, "--out", str(tmp_path / "run")],
                              capture_output=True, text=True, timeout=120, env=mpi_env(), cwd=tmp_path)

    done = train("--nproc", "0")
    assert done.returncode == 1 and done.stderr == "strided train: error: --nproc must be a positive integer, got 0\n"
    done = train("--nproc", "2", "--val-split", "2")
    assert done.returncode == 1 and done.stderr.startswith("strided train: error: --val-split must be at least 0")
    done = train("--nproc", "2", "--dataset", str(tmp_path / "missing"))
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, done.stderr  # one line per rank that got there before the abort
    assert all(line.startswith("strided.distributed: rank ") and "raised" in line for line in lines)
