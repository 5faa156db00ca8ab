"""Trainer(precision=...): mixed-precision training, loss scaling and its state in checkpoints."""

import numpy as np
import pytest

import strided as st
from strided.train import Trainer
from tests.train.tiny import ShuffleLoader, tiny_cnn, tiny_data

EPOCHS = 4


def make_trainer(precision="16-mixed", seed=0):
    st.manual_seed(seed)
    x, y = tiny_data(40)
    model = tiny_cnn(dropout=0.2)
    optimizer = st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # A scale too large for float16 at first (steps skipped, backoff), then growth every 3 clean steps:
    # a resumed run that lost the scaler's state would skip other steps and end elsewhere.
    scaler = st.amp.GradScaler(init_scale=2.0**24, growth_interval=3) if precision == "16-mixed" else None
    trainer = Trainer(model, optimizer, st.nn.CrossEntropyLoss(), verbose=0, precision=precision,
                      grad_scaler=scaler, clip_grad_norm=5.0)
    return trainer, ShuffleLoader(x, y, 8, seed=seed)


def test_a_resumed_16_mixed_run_equals_an_uninterrupted_one_bit_for_bit(tmp_path):
    trainer, loader = make_trainer()
    trainer.fit(loader, epochs=EPOCHS)
    expected, expected_scaler = trainer.model.state_dict(), trainer.scaler.state_dict()
    assert expected_scaler["scale"] not in (2.0**24,)  # the scale moved: the checkpoint must carry it

    path = tmp_path / "last.ckpt"
    first, loader = make_trainer()
    first.fit(loader, epochs=2, checkpoint_path=path)
    resumed, loader = make_trainer(seed=1)  # all state must come from the checkpoint
    resumed.fit(loader, epochs=EPOCHS, checkpoint_path=path, resume=True)
    assert resumed.scaler.state_dict() == expected_scaler
    for name, value in expected.items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)


def test_16_mixed_skips_overflowing_steps_and_backs_off():
    trainer, loader = make_trainer()
    before = {k: v.copy() for k, v in trainer.model.state_dict().items()}
    x, y = next(iter(loader))
    trainer.fit([(x, y)], epochs=1)  # one step at scale 2^24: the float16 gradients overflow
    assert trainer.scaler.get_scale() == 2.0**23
    for name, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)  # the step was skipped


@pytest.mark.parametrize("precision", ["32", "16-mixed", "bf16-mixed"])
def test_each_precision_learns_and_keeps_float32_weights(precision):
    trainer, loader = make_trainer(precision)
    history = trainer.fit(loader, epochs=EPOCHS)
    assert history[-1]["loss"] < history[0]["loss"]
    assert all(p.dtype == np.float32 for p in trainer.model.parameters())
    assert trainer.scaler.is_enabled() == (precision == "16-mixed")


def test_bad_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="precision: expected one of '32', '16-mixed', 'bf16-mixed', got '64'"):
        make_trainer("64")
