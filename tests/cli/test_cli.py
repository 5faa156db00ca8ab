"""Every `strided` command run as a user would, as a subprocess, including the mistakes users make."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import strided as st

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "images"
# A small, fast run: 10% of the bundled sample for training, the rest for validation.
FAST = ["--val-split", "0.9", "--batch-size", "32", "--quiet"]


def strided(*args, check=True, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("STRIDED_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "strided", *map(str, args)], capture_output=True, text=True,
                            timeout=timeout, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def image_folder(root: Path, shape: tuple) -> Path:
    """A 24-image ImageFolder of random images of ``shape`` ((H, W) grey or (H, W, 3) colour) in classes a, b, c."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        (root / name).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def assert_user_error(result, message):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "digits"
    strided("train", "--epochs", "2", "--out", out, *FAST)
    return out


def test_version():
    assert strided("--version").stdout.strip() == f"strided {st.__version__}"


def test_train_writes_a_complete_run_folder(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "config.json", "history.png",
            "confusion_matrix.png"} <= names
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2]
    assert lines[-1]["val_accuracy"] > 0.8  # 400 training digits, 2 epochs: already far above chance
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == "sample" and config["epochs"] == 2 and config["val_split"] == 0.9
    meta = st.io.read_metadata(run_dir / "model.safetensors")["meta"]
    assert meta["class_names"] == [str(d) for d in range(10)] and meta["input_shape"] == [1, 28, 28]
    assert meta["preprocessing"]["mode"] == "L" and 0.1 < meta["preprocessing"]["mean"][0] < 0.2


def test_predict_reads_images_as_training_did(run_dir):
    out = strided("predict", run_dir / "model.safetensors", DIGITS, "--json", "--top-k", "2").stdout
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 10 and all(len(r["predictions"]) == 2 for r in rows)
    correct = sum(r["predictions"][0]["class"] == Path(r["file"]).stem[-1] for r in rows)
    assert correct >= 7, rows
    text = strided("predict", run_dir / "model.safetensors", DIGITS / "digit_3.png").stdout
    assert text.startswith(str(DIGITS / "digit_3.png") + ": ") and "%" in text


def test_evaluate_prints_metrics_and_the_confusion_matrix(run_dir):
    result = json.loads(strided("evaluate", run_dir / "model.safetensors", "--dataset", "sample", "--json").stdout)
    assert result["split"] == "test" and result["images"] == 1000 and result["accuracy"] > 0.8  # held-out digits
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 1000 and np.trace(matrix) / 1000 == result["accuracy"]
    text = strided("evaluate", run_dir / "model.safetensors").stdout
    assert "precision" in text and "confusion matrix" in text


def test_summary_of_a_file_and_of_an_architecture(run_dir):
    assert "Total params" in strided("summary", run_dir / "model.safetensors").stdout
    out = strided("summary", "resnet_cifar20", "--input-shape", "3,32,32").stdout
    expected = st.param_count(st.models.build_model("resnet_cifar20", num_classes=10, in_channels=3))
    assert f"Trainable params: {expected:,}" in out  # Keras counts BN statistics as non-trainable


@pytest.mark.parametrize("args, message", [
    (["predict", "missing.safetensors", "x.png"], "missing.safetensors: no such model file"),
    (["train", "--model", "resnet9000", "--epochs", "1"], "unknown model 'resnet9000'"),
    (["train", "--dataset", "imagenet-22k"], "unknown dataset 'imagenet-22k'"),
    (["summary", "not_an_arch"], "unknown model 'not_an_arch'"),
    (["serve", "nothing.safetensors"], "nothing.safetensors: no such model file"),
])
def test_user_mistakes_are_one_line_errors(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "strided", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert_user_error(result, message)


def test_an_undecodable_image_and_a_foreign_model_file(run_dir, tmp_path):
    bad = tmp_path / "photo.png"
    bad.write_bytes(b"this is not a png")
    assert_user_error(strided("predict", run_dir / "model.safetensors", bad, check=False),
                      "photo.png: not an image")
    foreign = tmp_path / "weights.safetensors"
    foreign.write_bytes(b"\x00" * 64)
    assert_user_error(strided("predict", foreign, DIGITS / "digit_1.png", check=False), "weights.safetensors: not a")


def test_an_existing_run_needs_resume(run_dir):
    assert_user_error(strided("train", "--out", run_dir, check=False), "already holds a run: pass --resume")


def test_a_killed_run_resumes_to_the_same_weights(tmp_path):
    reference = tmp_path / "reference"
    strided("train", "--epochs", "3", "--out", reference, *FAST)

    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "strided", "train", "--epochs", "3", "--out", str(killed), *FAST]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "checkpoint.safetensors"
    deadline = time.time() + 240
    while not checkpoint.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "model.safetensors").exists(), "the run finished before it could be killed"

    started_with = json.loads((killed / "config.json").read_text())
    strided("train", "--resume", "--out", killed, "--quiet")  # the run's own config.json gives the rest
    assert json.loads((killed / "config.json").read_text()) == started_with
    ours = st.load(killed / "model.safetensors").state_dict()
    theirs = st.load(reference / "model.safetensors").state_dict()
    assert list(ours) == list(theirs)
    for key in ours:
        assert np.array_equal(ours[key], theirs[key]), key


def test_resume_keeps_the_runs_settings_and_flags_extend_it(tmp_path):
    out = tmp_path / "short"
    strided("train", "--epochs", "1", "--out", out, *FAST)
    strided("train", "--resume", "--epochs", "2", "--out", out, "--quiet")
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 2 and config["val_split"] == 0.9 and config["batch_size"] == 32
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_a_closed_pipe_ends_quietly():
    # As when `strided evaluate ... | head -1` closes the pipe while strided still prints.
    code = ("import strided.cli as cli, strided.commands.summary as summary\n"
            "def closed(args):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
            "summary.run = closed\n"
            "raise SystemExit(cli.main(['summary', 'seed_cnn']))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 141 and result.stderr == "", result.stderr


def test_bench_takes_its_own_options():
    out = strided("bench", "--help").stdout
    assert "--repeats" in out and "--cases" in out
