"""A training process killed with SIGKILL after its first checkpoint, then resumed in a new process,
ends with exactly the weights of a process that was never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from strided.io import load_checkpoint

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 4

SCRIPT = """
import sys, time
import numpy as np
import strided as st
from strided.train import Callback, Trainer
from strided.data import ArrayDataset, DataLoader, transforms
from tests.train.tiny import tiny_cnn, tiny_data

checkpoint, output, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])


class Pause(Callback):
    def on_train_begin(self, logs=None):
        print("start", self.trainer.epoch, flush=True)

    def on_epoch_end(self, epoch, logs=None):
        time.sleep(pause)  # leaves time to be killed between checkpoints


st.manual_seed(7)
x, y = tiny_data(64)
model = tiny_cnn(dropout=0.25)
optimizer = st.optim.Adam(model.parameters(), lr=0.01)
trainer = Trainer(model, optimizer, st.nn.CrossEntropyLoss(), callbacks=[Pause()], verbose=0)
flip = transforms.RandomHorizontalFlip()  # random augmentation drawn by the loader
loader = DataLoader(ArrayDataset(x, y), batch_size=16, shuffle=True, transform=flip, seed=3)
trainer.fit(loader, [(x, y)], epochs={epochs}, checkpoint_path=checkpoint, resume=True)
print("history", trainer.history.epochs, flush=True)
np.savez(output, **model.state_dict())
""".replace("{epochs}", str(EPOCHS))


def command(tmp_path, name, pause):
    return [sys.executable, str(tmp_path / "train.py"), str(tmp_path / f"{name}.ckpt"), str(tmp_path / f"{name}.npz"),
            str(pause)]


def environment():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    env = environment()
    subprocess.run(command(tmp_path, "whole", 0), cwd=REPO, env=env, check=True, timeout=120)

    killed = subprocess.Popen(command(tmp_path, "killed", 0.4), cwd=REPO, env=env)
    checkpoint = tmp_path / "killed.ckpt"
    deadline = time.monotonic() + 60
    while not checkpoint.exists() and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=30) == -signal.SIGKILL
    epoch_at_kill = load_checkpoint(checkpoint)["epoch"]
    assert 1 <= epoch_at_kill < EPOCHS, "the kill must land mid-run, after a checkpoint"
    assert not (tmp_path / "killed.npz").exists()

    resumed = subprocess.run(command(tmp_path, "killed", 0), cwd=REPO, env=env, check=True, timeout=120,
                             capture_output=True, text=True)
    assert f"start {epoch_at_kill}" in resumed.stdout  # it resumed, it did not start again
    assert f"history {list(range(1, EPOCHS + 1))}" in resumed.stdout
    whole, after_kill = np.load(tmp_path / "whole.npz"), np.load(tmp_path / "killed.npz")
    assert sorted(whole.files) == sorted(after_kill.files)
    for name in whole.files:
        assert np.array_equal(whole[name], after_kill[name]), name
