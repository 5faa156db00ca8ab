"""Callbacks decide as Keras' do: the sequences below are worked out by hand from Keras' rules."""

import json

import numpy as np
import pytest

import strided as st
from strided.train import Callback, EarlyStopping, MetricsLogger, ModelCheckpoint, ReduceLROnPlateau, Trainer
from tests.train.tiny import tiny_cnn, tiny_data


class FakeTrainer:
    """What callbacks use of a Trainer: model, optimizer, history, stop_training, weights_changed()."""

    def __init__(self, lr=1.0):
        st.manual_seed(0)
        self.model = tiny_cnn()
        self.optimizer = st.optim.SGD(self.model.parameters(), lr=lr)
        self.history = []
        self.stop_training = False

    def weights_changed(self):
        self.changed = True


def drive(callback, values, monitor="val_loss", trainer=None, on_epoch=None):
    """Feed one monitored value per epoch; return the epochs run (stopping when asked)."""
    trainer = trainer or FakeTrainer()
    callback.set_trainer(trainer)
    callback.on_train_begin({})
    ran = 0
    for epoch, value in enumerate(values):
        if on_epoch:
            on_epoch(epoch, trainer)
        callback.on_epoch_end(epoch, {monitor: value})
        ran += 1
        if trainer.stop_training:
            break
    callback.on_train_end({})
    return ran


@pytest.mark.parametrize("kwargs,values,epochs_run", [
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.92, 0.8], 4),           # no gain at epochs 2 and 3: stop after 3
    ({"patience": 0}, [1.0, 0.9, 0.95, 0.8], 3),                 # stop at the first epoch without gain
    ({"patience": 1, "min_delta": 0.05}, [1.0, 0.97, 0.9], 2),   # 0.97 is not 0.05 better than 1.0
    ({"patience": 1}, [1.0, 0.9, 0.8, 0.7], 4),                  # always improving: never stops
    ({"patience": 2}, [1.0, 0.9, 0.95, 0.93], 4),
    ({"patience": 2, "baseline": 0.5}, [1.0, 0.9, 0.95, 0.93], 3),  # gains that miss the baseline keep counting
    ({"patience": 1}, [1.0, 2.0, 3.0, 4.0, 5.0], 2),
    ({"patience": 1, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 4.0, 5.0], 4),  # epochs 0, 1 ignored; 2 is best
])
def test_early_stopping(kwargs, values, epochs_run):
    assert drive(EarlyStopping(**kwargs), values) == epochs_run


def test_early_stopping_maximises_accuracies_and_restores_the_best_weights():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1, restore_best_weights=True)
    snapshots = []

    def change_weights(epoch, trainer):
        trainer.model[3].weight.data = trainer.model[3].weight.data + 1.0  # another epoch of "training"
        snapshots.append(trainer.model[3].weight.data.copy())

    trainer = FakeTrainer()
    assert drive(stopper, [0.5, 0.8, 0.7, 0.6], "val_accuracy", trainer, change_weights) == 3
    assert stopper.best == 0.8 and stopper.best_epoch == 1 and stopper.stopped_epoch == 2
    np.testing.assert_array_equal(trainer.model[3].weight.data, snapshots[1])
    assert trainer.changed


def test_reduce_lr_on_plateau_with_cooldown_and_floor():
    # patience 1, cooldown 2: reduce at epochs 1, 3, 5 (the cooldown counter is decremented before
    # it is checked, as in Keras); 0.125 is floored to min_lr 0.2, which then stays.
    trainer = FakeTrainer(lr=1.0)
    reducer = ReduceLROnPlateau(factor=0.5, patience=1, cooldown=2, min_lr=0.2)
    lrs = []
    drive(reducer, [1.0] * 8, trainer=trainer,
          on_epoch=lambda epoch, t: lrs.append(t.optimizer.param_groups[0]["lr"]))
    lrs.append(trainer.optimizer.param_groups[0]["lr"])
    assert lrs == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2]


def test_reduce_lr_on_plateau_needs_min_delta_and_a_factor_below_one():
    trainer = FakeTrainer(lr=1.0)
    drive(ReduceLROnPlateau(patience=2, min_delta=0.1), [1.0, 0.95, 0.91, 0.85], trainer=trainer)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.1)  # 0.95 and 0.91 are not 0.1 better
    with pytest.raises(ValueError, match="factor must be < 1.0"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'"):
        EarlyStopping(mode="lowest")


def test_model_checkpoint_writes_model_files(tmp_path):
    trainer = FakeTrainer()
    every = ModelCheckpoint(tmp_path / "every-{epoch:02d}-{val_loss:.2f}.safetensors")
    best = ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_accuracy", save_best_only=True)
    for callback in (every, best):
        callback.set_trainer(trainer)
    for epoch, accuracy in enumerate([0.5, 0.7, 0.6]):
        trainer.model[3].bias.data = np.full(3, float(epoch), np.float32)
        logs = {"val_loss": 1.0 - accuracy, "val_accuracy": accuracy}
        every.on_epoch_end(epoch, logs)
        best.on_epoch_end(epoch, logs)
    assert sorted(p.name for p in tmp_path.glob("every-*")) == [
        "every-01-0.50.safetensors", "every-02-0.30.safetensors", "every-03-0.40.safetensors"]
    loaded = st.load(tmp_path / "best.safetensors")
    np.testing.assert_array_equal(loaded[3].bias.data, [1.0, 1.0, 1.0])  # epoch 2 (index 1) was the best
    assert best.state_dict() == {"best": 0.7}
    servable = ModelCheckpoint(tmp_path / "servable.safetensors", metadata={
        "class_names": ["a", "b", "c"], "input_shape": [2, 3, 3]})
    servable.set_trainer(trainer)
    servable.on_epoch_end(0, {"val_loss": 0.5})
    meta = st.io.read_metadata(tmp_path / "servable.safetensors")["meta"]
    assert meta["class_names"] == ["a", "b", "c"] and meta["input_shape"] == [2, 3, 3]
    bad = ModelCheckpoint(tmp_path / "m-{val_top5:.2f}.safetensors")
    bad.set_trainer(trainer)
    with pytest.raises(ValueError, match="names 'val_top5', which is not among the logged values"):
        bad.on_epoch_end(0, {"loss": 1.0})


def test_metrics_logger_continues_the_history(tmp_path):
    trainer = FakeTrainer()
    trainer.history = [{"epoch": 1, "loss": 0.5}]  # as after resuming a checkpoint of epoch 1
    path = tmp_path / "logs" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text('{"epoch": 1, "loss": 0.5}\n{"epoch": 2, "loss": 0.4}\n')  # epoch 2 ran, was not checkpointed
    logger = MetricsLogger(path)
    logger.set_trainer(trainer)
    logger.on_train_begin({})
    logger.on_epoch_end(1, {"epoch": 2, "loss": 0.45, "custom": np.float32(0.25)})
    assert [json.loads(line) for line in path.read_text().splitlines()] == [
        {"epoch": 1, "loss": 0.5}, {"epoch": 2, "loss": 0.45, "custom": 0.25}]


def test_hooks_run_in_keras_order_with_logs():
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(f"epoch_begin {epoch}")

        def on_batch_begin(self, batch, logs=None):
            calls.append(f"batch_begin {batch}")

        def on_batch_end(self, batch, logs=None):
            calls.append(f"batch_end {batch} {logs['size']}")

        def on_epoch_end(self, epoch, logs=None):
            calls.append(f"epoch_end {epoch} {sorted(logs)}")
            assert self.model is self.trainer.model

        def on_train_end(self, logs=None):
            calls.append("train_end")

    x, y = tiny_data(12)
    model = tiny_cnn()
    trainer = Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), st.nn.CrossEntropyLoss(),
                      callbacks=[Recorder()], verbose=0)
    trainer.fit([(x[:8], y[:8]), (x[8:], y[8:])], epochs=2)
    keys = ["accuracy", "epoch", "images_per_s", "loss", "lr", "time"]
    epoch = ["batch_begin 0", "batch_end 0 8", "batch_begin 1", "batch_end 1 4"]
    assert calls == ["train_begin", "epoch_begin 0", *epoch, f"epoch_end 0 {keys}",
                     "epoch_begin 1", *epoch, f"epoch_end 1 {keys}", "train_end"]


def test_early_stopping_stops_fit():
    x, y = tiny_data(16)
    st.manual_seed(0)
    model = tiny_cnn()
    trainer = Trainer(model, st.optim.SGD(model.parameters(), lr=0.0), st.nn.CrossEntropyLoss(),
                      callbacks=[EarlyStopping(monitor="loss", patience=2)], verbose=0)
    history = trainer.fit([(x, y)], epochs=20)
    assert len(history) == 3  # lr 0: the loss never improves after epoch 1
