"""Shared by the ONNX tests: run an exported file in onnxruntime and compare with strided."""

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed: pip install 'strided[onnx]'")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed: pip install 'strided[onnx]'")

TOLERANCE = 1e-5  # float32, relative to the largest output
WORST = {}  # direction -> (relative error, test): the worst measured, printed at the end of the run


def record(request, direction: str, error: float) -> float:
    if error >= WORST.get(direction, (-1.0, ""))[0]:
        WORST[direction] = (error, request.node.name)
    return error


def pytest_terminal_summary(terminalreporter):
    for direction, (error, test) in sorted(WORST.items()):
        terminalreporter.write_line(f"onnx {direction}: worst relative error {error:.2e} ({test})")


def run_onnxruntime(path, x: np.ndarray) -> list:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def strided_eval(model, x):
    model.eval()
    with st.no_grad():
        return model(x)


def export_and_compare(model, x, path, **kwargs) -> float:
    """Export ``model`` for x's shape, check it with full_check, and return onnxruntime's relative error."""
    st.onnx.export(model, path, input_shape=x.shape[1:], **kwargs)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    expected = strided_eval(model, x)
    got = run_onnxruntime(path, x)
    if isinstance(expected, dict):  # a feature extractor or pyramid: one graph output per map, in order
        expected = tuple(expected.values())
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert len(got) == len(expected)
    return max(rel_error(g, e) for g, e in zip(got, expected, strict=True))


@pytest.fixture
def compare(tmp_path, request):
    """compare(model, x, **export_kwargs): export, run in onnxruntime, assert 1e-5 relative; returns the error."""
    def check(model, x, **kwargs):
        error = export_and_compare(model, x, tmp_path / "model.onnx", **kwargs)
        record(request, "export vs onnxruntime", error)
        assert error <= TOLERANCE, f"{model!r}: onnxruntime differs by {error:.2e} (relative)"
        return error
    return check
