"""``strided export MODEL OUT.onnx [--input-shape C,H,W] [--opset 17] [--static-batch]``: a model file as ONNX.

The ONNX file runs in onnxruntime, browsers, phones and C++/Go services; it keeps the model file's
class names, input shape and preprocessing in its metadata. When onnxruntime is installed, the
exported file is run once and compared with strided on a random batch.
"""

from pathlib import Path

from .common import parse_shape


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors)")
    parser.add_argument("output", help="the ONNX file to write (.onnx)")
    parser.add_argument("--input-shape", type=parse_shape, help="C,H,W (default: the one the model file records)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset version, 13 to 21 (default 17)")
    parser.add_argument("--static-batch", action="store_true", help="fix the batch size at 1 instead of 'N'")


def run(args) -> int:
    import numpy as np

    from .. import io as st_io
    from .. import onnx as st_onnx

    st_onnx.require_onnx()  # before loading anything: say how to install it
    model = st_io.load(args.model)
    path = st_onnx.export(model, args.output, input_shape=args.input_shape, opset=args.opset,
                          dynamic_batch=not args.static_batch)
    shape = args.input_shape or tuple(model.metadata["input_shape"])
    size = Path(path).stat().st_size / 2**20
    print(f"wrote {path} ({size:.1f} MB, opset {args.opset}, input (N, {', '.join(map(str, shape))}))")
    error = _compare_with_onnxruntime(model, path, shape, np)
    if error is not None:
        print(f"onnxruntime agrees with strided to {error:.1e} (largest difference / largest output)")
    return 0


def _compare_with_onnxruntime(model, path, shape, np):
    try:
        import onnxruntime
    except ImportError:
        return None
    from ..grad_mode import no_grad

    x = np.random.default_rng(0).standard_normal((2, *shape)).astype(next(model.parameters()).dtype)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    with no_grad():
        expected = model(x)
    return float(np.abs(got - expected).max() / max(np.abs(expected).max(), np.finfo(np.float32).tiny))
