"""`strided export`, and ONNX files as the model of `strided predict`, `evaluate` and `serve` (strided's kernels run
them); a PyTorch safetensors file handed to strided gets an error that points to load_state_dict."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import strided as st
from strided.predictor import Predictor
from tests.onnx import torch_nets
from tests.onnx.conftest import onnx

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "images"
CLASSES = [str(i) for i in range(10)]  # the bundled sample's classes


def cli(capsys, *args):
    """`strided ARGS` in this process (cheaper than a subprocess): (exit code, stdout, stderr)."""
    from strided.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def strided(*args, check=True):
    """`strided ARGS` as a user runs it, in a subprocess."""
    env = {**os.environ}
    env.pop("STRIDED_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "strided", *map(str, args)], capture_output=True, text=True,
                            timeout=300, env=env)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_onnx")
    st.manual_seed(0)
    st.save(st.models.lenet5(), folder / "digits.safetensors", name="digits", class_names=CLASSES,
            input_shape=[1, 28, 28], preprocessing={"mode": "L", "size": [28, 28], "mean": [0.5], "std": [0.25]})
    result = strided("export", folder / "digits.safetensors", folder / "digits.onnx")
    assert "wrote" in result.stdout and "onnxruntime agrees with strided to" in result.stdout
    return folder / "digits.safetensors", folder / "digits.onnx"


def test_export_writes_a_checked_file_with_the_metadata(model_files):
    _, path = model_files
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["strided.class_names"]) == CLASSES


def test_predict_and_evaluate_give_the_same_answers_from_the_onnx_file(model_files, capsys):
    images = sorted(DIGITS.glob("*.png"))[:3]
    assert images, "examples/images holds the digit images the CLI tests use"
    lines = [strided("predict", model_files[1], *images, "--json").stdout.splitlines(),
             cli(capsys, "predict", model_files[0], *images, "--json")[1].splitlines()]
    for ours, theirs in zip(*lines, strict=True):
        a, b = json.loads(ours)["predictions"], json.loads(theirs)["predictions"]
        assert [p["class"] for p in a] == [p["class"] for p in b]
        np.testing.assert_allclose([p["probability"] for p in a], [p["probability"] for p in b], rtol=1e-5)
    results = [json.loads(cli(capsys, "evaluate", model, "--dataset", "sample", "--json")[1]) for model in model_files]
    assert results[0]["accuracy"] == results[1]["accuracy"] and results[0]["images"] == results[1]["images"] == 1000


def test_summary_reads_an_onnx_file(model_files, capsys):
    code, out, _ = cli(capsys, "summary", model_files[1])
    assert code == 0 and "Total params: 61,706" in out  # LeNet-5's


def test_serve_takes_an_onnx_file(model_files):
    from fastapi.testclient import TestClient

    from strided.serve.app import create_app

    _, onnx_file = model_files
    with TestClient(create_app(onnx_file)) as client:
        info = client.get("/v1/model").json()
        assert info["classes"] == CLASSES and info["name"] == "digits" and info["strided_version"] == st.__version__
        body = client.post("/predict", json={"inputs": np.zeros((1, 1, 28, 28)).tolist()}).json()
        assert len(body["predictions"][0]) >= 1


def test_a_pytorch_onnx_file_predicts_with_default_class_names(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch_nets.export(model, tmp_path / "torch.onnx", (1, 28, 28))
    predictor = Predictor(tmp_path / "torch.onnx")
    assert predictor.class_names == ["0", "1", "2"] and predictor.input_shape == (1, 28, 28)
    assert predictor.strided_version.startswith("pytorch")
    code, out, _ = cli(capsys, "predict", tmp_path / "torch.onnx", sorted(DIGITS.glob("*.png"))[0], "--json")
    assert code == 0 and len(json.loads(out)["predictions"]) == 3


def test_mistakes_end_in_one_line(model_files, tmp_path, capsys):
    safetensors, _ = model_files
    (tmp_path / "bad.onnx").write_bytes(b"not onnx")
    for args, message in [
        (("export", tmp_path / "missing.safetensors", tmp_path / "x.onnx"), "no such model file"),
        (("export", safetensors, tmp_path / "x.onnx", "--opset", "7"), "opset must be an int from 13 to 21"),
        (("predict", tmp_path / "bad.onnx", DIGITS), "not a readable ONNX file"),
    ]:
        code, out, err = cli(capsys, *args)
        assert code == 1 and "Traceback" not in err + out
        assert len(err.strip().splitlines()) == 1 and message in err, err
