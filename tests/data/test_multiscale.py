"""Multi-scale training: MultiScaleResize gives every image of a batch one side drawn from the list, repeatably
(the loader's per-batch generator), equal to Resize at that side; the Trainer and `strided train --multi-scale`
train with it."""

import json
import subprocess
import sys

import numpy as np
import pytest

import strided as st
from strided.data import ArrayDataset, DataLoader, MultiScaleResize
from strided.data import transforms as T
from strided.data.multiscale import parse_sizes

SIZES = (8, 12, 16)


def _dataset(n=96, side=12):
    rng = np.random.default_rng(0)
    return ArrayDataset(rng.random((n, 1, side, side), dtype=np.float32), np.arange(n) % 3)


def _sides(loader):
    return [x.shape[2:] for x, _ in loader]


def test_one_side_per_batch_drawn_from_the_list_repeatably():
    loader = DataLoader(_dataset(), 8, shuffle=True, transform=MultiScaleResize(SIZES), seed=3)
    first, second = _sides(loader), _sides(loader)
    assert all(h == w and h in SIZES for h, w in first + second)
    assert {h for h, _ in first} == set(SIZES)  # 12 batches: each side comes up
    assert first != second  # the next epoch draws again
    again = DataLoader(_dataset(), 8, shuffle=True, transform=MultiScaleResize(SIZES), seed=3, prefetch=2,
                       num_workers=3)
    assert _sides(again) == first  # same seed, same sides, whatever the threading
    st.manual_seed(7)
    a = _sides(DataLoader(_dataset(), 8, transform=MultiScaleResize(SIZES)))
    st.manual_seed(7)
    assert _sides(DataLoader(_dataset(), 8, transform=MultiScaleResize(SIZES))) == a  # seed from strided's generator


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_each_batch_is_the_resize_at_its_side(interpolation):
    batch = _dataset(5).images.astype(np.float32)
    transform = MultiScaleResize(SIZES, interpolation=interpolation)
    for seed in range(6):
        out = transform(batch, rng=np.random.default_rng(seed))
        side = transform.last_size
        assert side == SIZES[np.random.default_rng(seed).integers(3)]
        np.testing.assert_array_equal(out, T.Resize((side, side), interpolation)(batch))


def test_resizing_commutes_with_normalize():
    batch = _dataset(4).images
    normalize, resize = T.Normalize([0.3], [0.2]), T.Resize((16, 16))
    np.testing.assert_allclose(resize(normalize(batch)), normalize(resize(batch)), rtol=1e-5, atol=1e-5)


def test_errors():
    assert parse_sizes("20, 28,36") == (20, 28, 36)
    with pytest.raises(ValueError, match=r"--multi-scale: sizes must be integers separated by commas .* got '20,x'"):
        parse_sizes("20,x", "--multi-scale")
    with pytest.raises(ValueError, match=r"MultiScaleResize: each size must be a positive integer, got 0"):
        MultiScaleResize([20, 0])
    with pytest.raises(ValueError, match="MultiScaleResize: sizes must be a non-empty list"):
        MultiScaleResize([])
    with pytest.raises(ValueError, match="MultiScaleResize: interpolation must be one of"):
        MultiScaleResize([8], interpolation="cubic")


class _Sizes(st.nn.Module):
    """The identity, remembering the side of every batch it sees."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x.shape[2])
        return x

    def backward(self, grad_out):
        return grad_out


def test_the_trainer_trains_on_every_side():
    st.manual_seed(0)
    nn = st.nn
    spy = _Sizes()
    model = nn.Sequential(spy, nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 3))
    loader = DataLoader(_dataset(), 16, shuffle=True, transform=MultiScaleResize(SIZES), seed=0)
    trainer = st.train.Trainer(model, st.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                               progress=False, verbose=0)
    history = trainer.fit(loader, epochs=2)
    assert set(spy.seen) == set(SIZES) and len(spy.seen) == 12
    assert np.isfinite(history[-1]["loss"])


def test_strided_train_multi_scale(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "strided", "train", "--epochs", "1", "--multi-scale", "20,28,36", "--out",
               str(out), "--val-split", "0.95", "--batch-size", "32", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "config.json").read_text())["multi_scale"] == [20, 28, 36]
    assert st.load(out / "model.safetensors").metadata["input_shape"] == [1, 28, 28]
    bad = subprocess.run(command[:7] + ["20,x", "--out", str(tmp_path / "bad")], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    expected = "strided train: error: --multi-scale: sizes must be integers separated by commas (e.g. 20,28,36)"
    assert bad.stderr.strip().splitlines() == [f"{expected}, got '20,x'"]
