"""The Trainer: it learns, and each of its features does exactly what it says."""

import json

import numpy as np
import pytest

import strided as st
from strided.train import NonFiniteLossError, Trainer
from tests.helpers import TOLERANCE, assert_close
from tests.train.tiny import CLASSES, ShuffleLoader, batches, tiny_cnn, tiny_data


def quiet_trainer(model, optimizer, **kwargs):
    kwargs.setdefault("verbose", 0)
    return Trainer(model, optimizer, kwargs.pop("loss", st.nn.CrossEntropyLoss()), **kwargs)


def weights(model) -> dict:
    return {name: np.array(value) for name, value in model.state_dict().items()}


def test_overfits_a_small_batch_to_100_percent():
    st.manual_seed(0)
    x, y = tiny_data(16, seed=1)
    y = np.random.default_rng(2).integers(0, CLASSES, 16)  # random labels: only memorising reaches 100%
    model = tiny_cnn()
    trainer = quiet_trainer(model, st.optim.Adam(model.parameters(), lr=0.02))
    history = trainer.fit([(x, y)], epochs=80)
    assert trainer.evaluate([(x, y)])["accuracy"] == 1.0
    assert history[-1]["loss"] < 0.1 < history[0]["loss"]


@pytest.mark.parametrize("small,accum,large", [
    ((8, 8, 8, 8), 4, (32,)),            # equal batches: one step either way
    ((10, 10, 12), 3, (32,)),            # unequal batches: each weighted by its size
    ((6, 6, 6, 6, 8), 2, (12, 12, 8)),   # an incomplete group at the end of the epoch still steps
])
def test_gradient_accumulation_equals_one_large_batch(small, accum, large):
    x, y = tiny_data(32, dtype=np.float64)
    results = []
    for sizes, steps in ((small, accum), (large, 1)):
        st.manual_seed(0)
        model = tiny_cnn(np.float64)
        optimizer = st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
        trainer = quiet_trainer(model, optimizer, grad_accum_steps=steps)
        trainer.fit(batches(x, y, sizes), epochs=2)
        assert trainer.global_step == 2 * len(large)
        results.append(weights(model))
    for name in results[0]:
        assert_close(results[0][name], results[1][name], TOLERANCE[np.dtype(np.float64)], name)
    assert not np.array_equal(results[0]["3.weight"], tiny_cnn_initial_weight())


def tiny_cnn_initial_weight():
    st.manual_seed(0)
    return tiny_cnn(np.float64).state_dict()["3.weight"]


def manual_sgd_step(model, x, y, lr, weight_decay=0.0, max_norm=None):
    """One plain SGD step by hand, the reference for what the Trainer must do."""
    loss = st.nn.CrossEntropyLoss()
    model.zero_grad()
    loss(model(x), y)
    model.backward(loss.backward())
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    if max_norm is not None:
        total = np.sqrt(sum(np.sum(g ** 2) for g in grads.values()))
        grads = {name: g * min(1.0, max_norm / (total + 1e-6)) for name, g in grads.items()}
    return {name: p.data - lr * (grads[name] + weight_decay * p.data) for name, p in model.named_parameters()}


@pytest.mark.parametrize("weight_decay,max_norm", [(0.0, None), (0.5, None), (0.0, 0.05), (0.1, 0.05)])
def test_weight_decay_and_gradient_clipping_in_one_step(weight_decay, max_norm):
    x, y = tiny_data(16, dtype=np.float64)
    st.manual_seed(0)
    reference = manual_sgd_step(tiny_cnn(np.float64), x, y, 0.5, weight_decay, max_norm)
    st.manual_seed(0)
    model = tiny_cnn(np.float64)
    optimizer = st.optim.SGD(model.parameters(), lr=0.5, weight_decay=weight_decay)
    quiet_trainer(model, optimizer, clip_grad_norm=max_norm).fit([(x, y)], epochs=1)
    for name, param in model.named_parameters():
        assert_close(param.data, reference[name], TOLERANCE[np.dtype(np.float64)], name)


class RecordingSGD(st.optim.SGD):
    def step(self, closure=None):
        self.seen = getattr(self, "seen", []) + [self.param_groups[0]["lr"]]
        return super().step(closure)


def test_linear_warmup_scales_only_the_first_steps():
    x, y = tiny_data(24)
    st.manual_seed(0)
    model = tiny_cnn()
    optimizer = RecordingSGD(model.parameters(), lr=0.4)
    trainer = quiet_trainer(model, optimizer, warmup_steps=4)
    history = trainer.fit(batches(x, y, (8, 8, 8)), epochs=2)
    assert optimizer.seen == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4])
    assert optimizer.param_groups[0]["lr"] == 0.4  # the scaled value never stays behind
    assert [r["lr"] for r in history] == pytest.approx([0.3, 0.4])


def test_a_non_finite_loss_stops_with_where_it_happened():
    x, y = tiny_data(24)
    x[17, 0, 0, 0] = np.nan  # in the third batch (index 2) of the first epoch
    st.manual_seed(0)
    model = tiny_cnn()
    trainer = quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1))
    where = r"became nan at epoch 1, optimizer step 3, batch 2 of the epoch"
    with pytest.raises(NonFiniteLossError, match=where) as info:
        trainer.fit(batches(x, y, (8, 8, 8)), epochs=2)
    assert isinstance(info.value, FloatingPointError)
    assert (info.value.epoch, info.value.step, info.value.batch) == (1, 3, 2)
    trainer = quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1), check_finite=False)
    assert np.isnan(trainer.fit(batches(x, y, (8, 8, 8)), epochs=1)[0]["loss"])


def run(seed, epochs=3):
    st.manual_seed(seed)
    x, y = tiny_data(40)
    model = tiny_cnn(dropout=0.3)
    trainer = quiet_trainer(model, st.optim.Adam(model.parameters(), lr=0.01))
    trainer.fit(ShuffleLoader(x, y, 16, seed=seed), epochs=epochs)
    return weights(model)


def test_same_seed_same_weights_bit_for_bit():
    first, second, other = run(3), run(3), run(4)
    assert all(np.array_equal(first[name], second[name]) for name in first)
    assert not np.array_equal(first["4.weight"], other["4.weight"])


def test_history_summary_lines_and_progress_bars(capsys):
    x, y = tiny_data(24)
    st.manual_seed(0)
    model = tiny_cnn()
    trainer = Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), st.nn.CrossEntropyLoss(),
                      metrics=("accuracy", "top2_accuracy"), progress=True)
    history = trainer.fit(batches(x, y, (8, 8, 8)), val_loader=[(x, y)], epochs=2)
    assert history is trainer.history and len(history) == 2
    assert list(history[0]) == ["epoch", "loss", "accuracy", "top2_accuracy", "val_loss", "val_accuracy",
                                "val_top2_accuracy", "lr", "time", "images_per_s"]
    assert history.history["epoch"] == [1, 2]
    assert history[1]["val_top2_accuracy"] >= history[1]["val_accuracy"]
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - ")
    assert f"loss: {history[1]['loss']:.4f} - accuracy: {history[1]['accuracy']:.4f}" in lines[1]
    assert " - val_loss: " in lines[1] and " - lr: 0.1 - " in lines[1] and lines[1].endswith("img/s")
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "/3 [" in err  # the bars (steps of 3), on stderr

    trainer = Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), st.nn.CrossEntropyLoss())  # 'auto'
    trainer.fit(batches(x, y, (8, 8, 8)), epochs=1)
    out, err = capsys.readouterr()
    assert out.startswith("Epoch 1/1 - ") and err == ""  # not a terminal: summaries, no bars
    quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1)).fit([(x, y)], epochs=1)
    assert capsys.readouterr() == ("", "")


def test_evaluate_and_predict():
    x, y = tiny_data(20)
    st.manual_seed(0)
    model = tiny_cnn(dropout=0.5)
    loss = st.nn.CrossEntropyLoss(label_smoothing=0.2)
    trainer = quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1), loss=loss)
    model.eval()
    with st.no_grad():
        logits = model(x)
        expected_loss = loss(logits, y)
    model.train()
    result = trainer.evaluate(batches(x, y, (10, 6, 4)))
    assert result["loss"] == pytest.approx(expected_loss, rel=1e-6)  # label smoothing included
    assert result["accuracy"] == np.mean(logits.argmax(1) == y)
    assert model.training  # evaluate restores the mode
    np.testing.assert_array_equal(trainer.predict(x), logits)  # in one batch, as computed above
    tol = TOLERANCE[np.dtype(np.float32)]  # other batchings round differently in BLAS
    assert_close(trainer.predict(x, batch_size=7), logits, tol, "predict in batches of 7")
    assert_close(trainer.predict(batches(x, y, (10, 10))), logits, tol, "predict from a loader")
    probabilities = trainer.predict(x, probabilities=True)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(probabilities.argmax(1), logits.argmax(1))


def test_evaluate_with_a_report():
    x, y = tiny_data(30)
    st.manual_seed(0)
    model = tiny_cnn()
    trainer = quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1))
    result = trainer.evaluate(batches(x, y, (16, 14)), report=True, class_names=["a", "b", "c"])
    predictions = trainer.predict(x).argmax(1)
    np.testing.assert_array_equal(result["confusion_matrix"], st.train.confusion_matrix(y, predictions, 3))
    assert result["report"] == st.train.classification_report(y, predictions, ["a", "b", "c"])
    assert result["report"]["accuracy"] == pytest.approx(result["accuracy"])


def test_a_float32_loader_feeds_a_float64_model():
    x, y = tiny_data(8)
    st.manual_seed(0)
    model = tiny_cnn(np.float64)
    quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1)).fit([(x, y)], epochs=1)
    assert all(p.dtype == np.float64 for p in model.parameters())


def test_schedulers_per_epoch_per_step_and_with_metrics():
    x, y = tiny_data(8)
    st.manual_seed(0)
    model = tiny_cnn()
    optimizer = st.optim.SGD(model.parameters(), lr=1.0)
    scheduler = st.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = quiet_trainer(model, optimizer, scheduler=scheduler).fit([(x, y)], epochs=3)
    assert [r["lr"] for r in history] == [1.0, 0.5, 0.25]
    optimizer = st.optim.SGD(model.parameters(), lr=1.0)
    scheduler = st.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    trainer = quiet_trainer(model, optimizer, scheduler=scheduler, scheduler_interval="step")
    history = trainer.fit(batches(x, y, (4, 4)), epochs=2)
    assert [r["lr"] for r in history] == [0.5, 0.125]  # per step: 1, 0.5 | 0.25, 0.125
    optimizer = st.optim.SGD(model.parameters(), lr=1e-6)  # hardly any progress: a plateau
    plateau = st.optim.lr_scheduler.ReduceLROnPlateau(optimizer, patience=0, factor=0.5)
    quiet_trainer(model, optimizer, scheduler=plateau).fit([(x, y)], val_loader=[(x, y)], epochs=3)
    assert plateau.best == pytest.approx(quiet_trainer(model, optimizer).evaluate([(x, y)])["loss"], rel=1e-4)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.5e-7)


def test_run_dir_gets_curves_confusion_matrix_and_metrics(tmp_path):
    x, y = tiny_data(24)
    st.manual_seed(0)
    model = tiny_cnn()
    trainer = quiet_trainer(model, st.optim.SGD(model.parameters(), lr=0.1), run_dir=tmp_path / "run",
                            class_names=["top", "middle", "bottom"])
    trainer.fit(batches(x, y, (12, 12)), val_loader=[(x, y)], epochs=2)
    for name in ("history.png", "confusion_matrix.png"):
        data = (tmp_path / "run" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    assert json.loads(lines[1])["val_accuracy"] == trainer.history[1]["val_accuracy"]


def test_bad_arguments_and_loaders():
    model = tiny_cnn()
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="grad_accum_steps must be a positive integer, got 0"):
        quiet_trainer(model, optimizer, grad_accum_steps=0)
    with pytest.raises(ValueError, match="clip_grad_norm must be positive"):
        quiet_trainer(model, optimizer, clip_grad_norm=-1.0)
    with pytest.raises(ValueError, match="warmup_steps must be a non-negative integer"):
        quiet_trainer(model, optimizer, warmup_steps=1.5)
    with pytest.raises(ValueError, match="progress must be True, False or 'auto'"):
        quiet_trainer(model, optimizer, progress="sometimes")
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        quiet_trainer(model, optimizer, metrics=["f2"])
    with pytest.raises(ValueError, match="callbacks must be Callback instances, got function"):
        quiet_trainer(model, optimizer, callbacks=[lambda: None])
    trainer = quiet_trainer(model, optimizer)
    with pytest.raises(ValueError, match=r"expected the loader to yield \(inputs, targets\) pairs"):
        trainer.fit([np.zeros((2, 1, 6, 6), np.float32)], epochs=1)
    with pytest.raises(ValueError, match="the training loader yielded no batches"):
        trainer.fit([], epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 2.5"):
        trainer.fit([], epochs=2.5)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        trainer.fit([], epochs=1, resume=True)
