"""Checkpoints: a resumed run ends with the weights of an uninterrupted one, bit for bit.

In process here (every stateful part at once: dropout draws, a shuffling loader, momentum, a
scheduler, the warm-up, callbacks' patience); with a real SIGKILL in test_resume_sigkill.py.
"""

import numpy as np
import pytest

import strided as st
from strided.io import ModelFileError
from strided.train import Callback, EarlyStopping, ReduceLROnPlateau, Trainer
from tests.train.tiny import ShuffleLoader, tiny_cnn, tiny_data

EPOCHS = 5


class HalveEveryThirdEpoch(Callback):
    """A custom stateful callback: it counts the epochs it has seen (restarting at each on_train_begin)."""

    def on_train_begin(self, logs=None):
        self.seen = 0

    def on_epoch_end(self, epoch, logs=None):
        self.seen += 1
        if self.seen % 3 == 0:
            for group in self.trainer.optimizer.param_groups:
                group["lr"] /= 2

    def state_dict(self):
        return {"seen": self.seen}


def make_trainer(seed=0):
    """Everything built from the seed, as a fresh process would build it."""
    st.manual_seed(seed)
    x, y = tiny_data(40)
    model = tiny_cnn(dropout=0.3)
    optimizer = st.optim.SGD(model.parameters(), lr=0.2, momentum=0.9, weight_decay=1e-3)
    scheduler = st.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    callbacks = [EarlyStopping(monitor="loss", patience=50), ReduceLROnPlateau(monitor="val_loss", patience=1),
                 HalveEveryThirdEpoch()]
    trainer = Trainer(model, optimizer, st.nn.CrossEntropyLoss(), scheduler=scheduler, callbacks=callbacks,
                      warmup_steps=3, grad_accum_steps=2, clip_grad_norm=1.0, verbose=0)
    return trainer, ShuffleLoader(x, y, 8, seed=seed), [(x[:16], y[:16])]


def without_times(history):
    return [{k: v for k, v in record.items() if k not in ("time", "images_per_s")} for record in history]


def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path):
    trainer, loader, val = make_trainer()
    trainer.fit(loader, val, epochs=EPOCHS)
    expected = trainer.model.state_dict()
    expected_optimizer = trainer.optimizer.state_dict()

    path = tmp_path / "last.ckpt"
    first, loader, val = make_trainer()
    first.fit(loader, val, epochs=2, checkpoint_path=path)
    st.manual_seed(123)  # the resumed process's own draws must not matter
    resumed, loader, val = make_trainer(seed=0)
    resumed.fit(loader, val, epochs=EPOCHS, checkpoint_path=path, resume=True)

    assert resumed.epoch == EPOCHS and resumed.global_step == trainer.global_step
    for name, value in expected.items():
        assert np.array_equal(resumed.model.state_dict()[name], value), name
    for index, state in expected_optimizer["state"].items():
        for key, value in state.items():
            assert np.array_equal(resumed.optimizer.state_dict()["state"][index][key], value)
    assert without_times(resumed.history) == without_times(trainer.history)
    for ours, theirs in zip(resumed.callbacks, trainer.callbacks, strict=True):
        assert ours.state_dict() == theirs.state_dict()


def test_load_checkpoint_then_fit_continues_the_history(tmp_path):
    trainer, loader, val = make_trainer()
    trainer.fit(loader, val, epochs=2)
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    other, loader, val = make_trainer(seed=1)
    other.load_checkpoint(tmp_path / "c.ckpt")
    assert other.epoch == 2 and len(other.history) == 2
    other.fit(loader, val, epochs=3)
    assert other.history.epochs == [1, 2, 3]
    with pytest.warns(UserWarning, match="3 epochs already completed of 3; nothing to do"):
        other.fit(loader, val, epochs=3)


def test_resume_without_a_checkpoint_starts_fresh(tmp_path):
    trainer, loader, val = make_trainer()
    trainer.fit(loader, val, epochs=1, checkpoint_path=tmp_path / "new.ckpt", resume=True)
    assert trainer.epoch == 1 and (tmp_path / "new.ckpt").is_file()


class Snapshots(Callback):
    """Keeps the weights as they are at the end of each epoch."""

    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({k: np.array(v) for k, v in self.model.state_dict().items()})


def test_an_early_stopped_run_is_saved_with_its_best_weights_and_stays_stopped(tmp_path):
    def build():
        st.manual_seed(0)
        x, y = tiny_data(16)
        model = tiny_cnn()
        callbacks = [Snapshots(), EarlyStopping(monitor="val_loss", patience=0, restore_best_weights=True)]
        trainer = Trainer(model, st.optim.SGD(model.parameters(), lr=20.0), st.nn.CrossEntropyLoss(),
                          callbacks=callbacks, verbose=0)
        return trainer, [(x, y)]

    trainer, data = build()
    trainer.fit(data, data, epochs=10, checkpoint_path=tmp_path / "c.ckpt")
    assert trainer.epoch == 2  # lr 20: the second epoch is worse, and patience is 0
    first, last = trainer.callbacks[0].weights
    again, data = build()
    with pytest.warns(UserWarning, match="stopped by a callback after epoch 2; nothing to do"):
        again.fit(data, data, epochs=10, checkpoint_path=tmp_path / "c.ckpt", resume=True)
    assert again.epoch == 2
    assert not np.array_equal(first["3.weight"], last["3.weight"])
    for name, value in again.model.state_dict().items():  # the checkpoint holds the restored best weights
        assert np.array_equal(value, first[name]) and np.array_equal(trainer.model.state_dict()[name], first[name])
    again.fit(data, data, epochs=3)  # asked explicitly (no resume), training goes on
    assert again.epoch == 3


def test_checkpoint_mismatches_are_clear_errors(tmp_path):
    trainer, loader, val = make_trainer()
    trainer.fit(loader, val, epochs=1)
    trainer.save_checkpoint(tmp_path / "c.ckpt")
    st.manual_seed(0)
    model = tiny_cnn(dropout=0.3)
    plain = Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), st.nn.CrossEntropyLoss(), verbose=0)
    names = r"\['EarlyStopping', 'ReduceLROnPlateau', 'HalveEveryThirdEpoch'\]"
    with pytest.raises(ValueError, match=f"written with callbacks {names}"):
        plain.load_checkpoint(tmp_path / "c.ckpt")
    st.save(model, tmp_path / "model.safetensors")
    with pytest.raises(ModelFileError, match="not a readable checkpoint|not a strided checkpoint"):
        plain.load_checkpoint(tmp_path / "model.safetensors")
    with pytest.raises(ModelFileError, match="no such checkpoint"):
        plain.load_checkpoint(tmp_path / "missing.ckpt")
    trainer.save_checkpoint(tmp_path / "with_loader.ckpt")
    fresh, _, _ = make_trainer()
    fresh.load_checkpoint(tmp_path / "with_loader.ckpt")
    with pytest.raises(ValueError, match="holds a loader state but this training loader has no load_state_dict"):
        fresh.fit([val[0]], epochs=2)
