"""The command line's dead ends, closed: each mistake or missing piece is one line, and a run can always go on.

Trains only on a 24-image folder of 16x16 images (seconds), never on a standard dataset.
"""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from .test_cli import assert_user_error, image_folder, strided

TINY = ["--image-size", "16", "--mode", "L", "--epochs", "1", "--batch-size", "8", "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = image_folder(tmp_path_factory.mktemp("tiny") / "images", (16, 16))
    (root / "a" / "broken.png").write_bytes(b"not a png")
    return root


@pytest.fixture(scope="module")
def trained(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "tiny"
    result = strided("train", "--dataset", folder, "--val-split", "0", "--out", out, *TINY)
    return out, result


def test_training_says_what_it_found_and_warns_in_one_line(trained, folder):
    out, result = trained
    assert f"{folder}: 24 images in 3 classes" in result.stdout
    warning = [line for line in result.stderr.splitlines() if "broken.png" in line]
    assert len(warning) == 1 and warning[0].startswith("strided train: warning: ImageFolder: skipped 1 file")
    assert "UserWarning" not in result.stderr and (out / "model.safetensors").is_file()  # --val-split 0 trains


def test_predict_skips_an_undecodable_image_with_a_count(trained, folder):
    result = strided("predict", trained[0] / "model.safetensors", folder / "a", "--top-k", "2")
    assert len(result.stdout.splitlines()) == 8 and all(line.count("%") == 2 for line in result.stdout.splitlines())
    assert result.stderr.splitlines() == [
        f"strided predict: warning: skipped {folder / 'a' / 'broken.png'}: not an image Pillow can decode "
        "(PNG, JPEG, BMP, GIF, WEBP, TIFF)",
        "strided predict: skipped 1 of 9 images that could not be decoded"]


def test_evaluate_shows_no_top5_for_three_classes(trained, folder):
    result = strided("evaluate", trained[0] / "model.safetensors", "--dataset", folder, "--json")
    assert json.loads(result.stdout)["top5_accuracy"] is None
    assert "top-5" not in strided("evaluate", trained[0] / "model.safetensors", "--dataset", folder).stdout


def test_a_run_killed_before_its_first_checkpoint_starts_over(folder, tmp_path):
    out = tmp_path / "killed"
    out.mkdir()
    settings = {"dataset": str(folder), "image_size": 16, "mode": "L", "epochs": 1, "batch_size": 8, "val_split": 0,
                "out": str(out)}
    (out / "config.json").write_text(json.dumps(settings))  # what a kill in the first epoch leaves
    (out / "metrics.jsonl").write_text("")
    (out / ".checkpoint.safetensors.ab12cd34.tmp").write_bytes(b"half")
    assert_user_error(strided("train", "--out", out, "--quiet", check=False), "pass --resume to continue it")
    result = strided("train", "--resume", "--out", out, "--quiet")
    assert "no checkpoint yet" in result.stdout and (out / "model.safetensors").is_file()
    assert not list(out.glob("*.tmp")) and len((out / "metrics.jsonl").read_text().splitlines()) == 1
    strided("train", "--overwrite", "--dataset", folder, "--val-split", "0", "--out", out, *TINY)
    assert json.loads((out / "config.json").read_text())["dataset"] == str(folder)


def test_train_help_shows_defaults_and_model_names():
    text = " ".join(strided("train", "--help").stdout.split())
    for expected in ("(default: 8)", "(default: 64)", "(default: 0.001)", "resnet_cifar20", "--download"):
        assert expected in text


@pytest.mark.parametrize("args, message", [
    (["train", "--dataset", "mnist", "--data-dir", "{tmp}"], "or pass --download to fetch them"),
    (["serve", "{model}", "--port", "99999"], "--port must be between 0 and 65535, got 99999"),
    (["serve", "{model}", "--port", "-5"], "--port must be between 0 and 65535, got -5"),
])
def test_mistakes_are_one_line(trained, tmp_path, args, message):
    args = [a.format(tmp=tmp_path, model=trained[0] / "model.safetensors") for a in args]
    assert_user_error(strided(*args, check=False), message)


def test_a_port_in_use_is_one_line_and_exit_1(trained):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = strided("serve", trained[0] / "model.safetensors", "--port", port, check=False)
    assert result.returncode == 1
    assert_user_error(result, f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.parametrize("command, blocked, hint", [
    (["train", "--out", "{tmp}/run"], "matplotlib", "pip install 'strided[train]'"),
    (["serve", "{model}"], "uvicorn", "pip install 'strided[serve]'"),
])
def test_a_missing_optional_package_names_its_extra_before_any_work(trained, tmp_path, command, blocked, hint):
    args = [a.format(tmp=tmp_path, model=trained[0] / "model.safetensors") for a in command]
    code = (f"import sys; sys.modules[{blocked!r}] = None\n"
            f"import strided.cli as cli; raise SystemExit(cli.main({args!r}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert_user_error(result, f"this needs {blocked}: {hint}")
    assert not (tmp_path / "run").exists()


def test_a_model_file_no_builder_can_build_is_a_user_error(tmp_path):
    from safetensors.numpy import save

    import strided as st

    spec = {"class": "Linear", "args": [4, 3], "kwargs": {"colour": "red"}}
    path = tmp_path / "odd.safetensors"
    path.write_bytes(save({"weight": np.zeros((3, 4), np.float32)}, metadata={
        "format": "strided-model", "strided.version": st.__version__, "strided.spec": json.dumps(spec),
        "strided.meta": "{}"}))
    result = strided("summary", path, check=False)
    assert result.returncode == 1
    assert_user_error(result, "cannot build Linear")
