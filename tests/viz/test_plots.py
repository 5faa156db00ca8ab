"""Each plot writes a valid PNG of a sensible size; bad arguments are clear errors."""

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import strided as st
from strided import viz
from tests.train.tiny import tiny_cnn

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple:
    """(width, height) from the PNG's IHDR chunk, after checking the signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR" and data.rstrip().endswith(b"IEND\xaeB`\x82")
    return struct.unpack(">II", data[16:24])


def assert_reasonable_png(path, min_side=200, max_side=4000):
    width, height = png_size(path)
    assert min_side <= width <= max_side and min_side <= height <= max_side, (width, height)
    assert path.stat().st_size > 3000  # not blank


def cnn():
    st.manual_seed(0)
    return st.nn.Sequential(st.nn.Conv2d(3, 6, 3, padding=1), st.nn.ReLU(), st.nn.Conv2d(6, 4, 3, padding=1),
                            st.nn.ReLU(), st.nn.Flatten(), st.nn.Linear(4 * 8 * 8, 5))


def test_plot_history_from_every_form(tmp_path):
    records = [{"epoch": e, "loss": 1 / e, "accuracy": 1 - 0.5 / e, "val_loss": 1.2 / e, "val_accuracy": 0.9 - 0.5 / e}
               for e in range(1, 6)]
    viz.plot_history(records, tmp_path / "list.png")
    assert_reasonable_png(tmp_path / "list.png")
    columns = {key: [r[key] for r in records] for key in records[0]}
    viz.plot_history(columns, tmp_path / "dict.png")
    assert_reasonable_png(tmp_path / "dict.png")
    viz.plot_history([{"loss": 0.5}], tmp_path / "one.png")  # one epoch, no accuracy, no validation
    assert_reasonable_png(tmp_path / "one.png")
    with pytest.raises(ValueError, match="the history is empty"):
        viz.plot_history([], tmp_path / "empty.png")


def test_plot_confusion_matrix(tmp_path):
    cm = np.array([[50, 2, 1], [3, 40, 7], [0, 5, 45]])
    path = viz.plot_confusion_matrix(cm, ["cat", "dog", "bird"], tmp_path / "cm.png")
    assert path == tmp_path / "cm.png"
    assert_reasonable_png(path)
    viz.plot_confusion_matrix(cm, ["cat", "dog", "bird"], tmp_path / "norm.png", normalize=True)
    assert_reasonable_png(tmp_path / "norm.png")
    big = np.random.default_rng(0).integers(0, 9, (31, 31))
    viz.plot_confusion_matrix(big, [f"class {i}" for i in range(31)], tmp_path / "big.png")
    assert_reasonable_png(tmp_path / "big.png")
    with pytest.raises(ValueError, match="2 class names for a 3x3 matrix"):
        viz.plot_confusion_matrix(cm, ["a", "b"], tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"expected a square matrix, got shape \(2, 3\)"):
        viz.plot_confusion_matrix(cm[:2], ["a", "b"], tmp_path / "bad.png")


def test_plot_filters_rgb_grey_and_a_single_layer(tmp_path):
    viz.plot_filters(cnn(), tmp_path / "rgb.png")
    assert_reasonable_png(tmp_path / "rgb.png")
    viz.plot_filters(tiny_cnn(), tmp_path / "grey.png")  # one input channel
    assert_reasonable_png(tmp_path / "grey.png", min_side=150)
    viz.plot_filters(cnn()[2], tmp_path / "layer.png")  # 6 input channels: one tile per (filter, channel)
    assert_reasonable_png(tmp_path / "layer.png")
    with pytest.raises(ValueError, match="no Conv2d layer in Sequential"):
        viz.plot_filters(st.nn.Sequential(st.nn.Linear(2, 2)), tmp_path / "none.png")


def test_plot_feature_maps_captures_every_conv_layer_and_restores_the_model(tmp_path):
    model = cnn()
    image = np.random.default_rng(0).standard_normal((3, 8, 8)).astype(np.float32)
    forward = model[0].forward
    viz.plot_feature_maps(model, image, tmp_path / "maps.png")
    assert_reasonable_png(tmp_path / "maps.png")
    assert model.training and model[0].forward == forward  # mode and forwards restored
    viz.plot_feature_maps(model, image[None].astype(np.float64), tmp_path / "batch.png")
    with pytest.raises(ValueError, match=r"expected one image \(C, H, W\) or \(1, C, H, W\), got \(2, 3, 8, 8\)"):
        viz.plot_feature_maps(model, np.stack([image, image]), tmp_path / "two.png")


def test_plot_misclassified(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.random((12, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 12)
    scores = rng.standard_normal((12, 3))
    viz.plot_misclassified(images, labels, scores, ["a", "b", "c"], tmp_path / "wrong.png")
    assert_reasonable_png(tmp_path / "wrong.png")
    rgb = rng.random((4, 3, 8, 8))
    viz.plot_misclassified(rgb, np.array([0, 1, 2, 0]), np.array([1, 1, 0, 2]), ["a", "b", "c"], tmp_path / "rgb.png")
    assert_reasonable_png(tmp_path / "rgb.png")
    viz.plot_misclassified(images, labels, labels, ["a", "b", "c"], tmp_path / "none.png")
    assert_reasonable_png(tmp_path / "none.png", min_side=100)
    with pytest.raises(ValueError, match="12 images, 3 labels, 12 predictions"):
        viz.plot_misclassified(images, labels[:3], labels, ["a", "b", "c"], tmp_path / "bad.png")


def test_plot_images_on_one_fixed_scale(tmp_path):
    grey = np.full((1, 16, 16), 60, np.uint8)
    colour = np.random.default_rng(0).random((3, 16, 16))
    path = viz.plot_images([grey, grey // 2, colour, colour[0]], ["a", "darker", "rgb", "plane"], tmp_path / "g.png",
                           columns=2, title="four")
    assert path == tmp_path / "g.png"
    assert_reasonable_png(path)
    with pytest.raises(ValueError, match="as many titles as images"):
        viz.plot_images([grey], ["a", "b"], tmp_path / "bad.png")


def test_importing_strided_does_not_import_matplotlib():
    code = "import sys, strided, strided.viz, strided.train; print('matplotlib' in sys.modules)"
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert result.stdout.strip() == "False"
