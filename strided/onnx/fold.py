"""Constant folding at import: the shape arithmetic exporters emit, computed once with NumPy.

PyTorch writes ``x.view(x.size(0), -1)`` as Shape -> Gather -> Unsqueeze -> Concat -> Reshape.
Every node whose inputs are all constants is evaluated here, and a Shape node reads the traced
sample's shape. The sample has batch size 1, so each folded integer also carries a mark saying
whether it IS the batch size; a Reshape turns marked entries back into "copy the batch" (0), and
arithmetic on a marked entry is refused rather than silently fixing the batch at 1.
"""

import numpy as np

from .errors import OnnxError


def shape_of(value: np.ndarray, attrs: dict):
    """Shape's output (start/end attributes from opset 15) and its batch marks (axis 0 is the batch)."""
    shape = np.array(value.shape, dtype=np.int64)
    marks = np.arange(value.ndim) == 0
    start, end = attrs.get("start", 0), attrs.get("end", value.ndim)
    return shape[start:end], marks[start:end]


def _axes(node_attrs, values, index: int):
    """Axes from an attribute (before opset 13) or from input ``index``."""
    if "axes" in node_attrs:
        return [int(a) for a in node_attrs["axes"]]
    return None if len(values) <= index or values[index] is None else [int(a) for a in values[index]]


def _unsqueeze(values, marks, attrs):
    x, m = values[0], marks[0]
    axes = sorted(a % (x.ndim + len(_axes(attrs, values, 1))) for a in _axes(attrs, values, 1))
    for a in axes:
        x, m = np.expand_dims(x, a), np.expand_dims(m, a)
    return x, m


def _squeeze(values, marks, attrs):
    axes = _axes(attrs, values, 1)
    axes = tuple(a % values[0].ndim for a in axes) if axes else None
    return np.squeeze(values[0], axes), np.squeeze(marks[0], axes)


def _gather(values, marks, attrs):
    axis, index = attrs.get("axis", 0), values[1].astype(np.int64)
    return np.take(values[0], index, axis=axis), np.take(marks[0], index, axis=axis)


def _concat(values, marks, attrs):
    axis = attrs["axis"]
    return np.concatenate(values, axis=axis), np.concatenate(marks, axis=axis)


def _slice(values, marks, attrs):
    x = values[0]
    if "starts" in attrs:  # before opset 10
        starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
    else:
        starts, ends = values[1], values[2]
        axes = values[3] if len(values) > 3 and values[3] is not None else None
        steps = values[4] if len(values) > 4 and values[4] is not None else None
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        index[int(axis)] = slice(int(start), int(end), int(step))
    return x[tuple(index)], marks[0][tuple(index)]


def _reshape(values, marks, attrs):
    target = [values[0].shape[i] if s == 0 else int(s) for i, s in enumerate(values[1])]
    return values[0].reshape(target), marks[0].reshape(target)


def _constant_of_shape(values, marks, attrs):
    from onnx import numpy_helper

    fill = numpy_helper.to_array(attrs["value"]) if "value" in attrs else np.zeros(1, np.float32)
    return np.full(tuple(int(s) for s in values[0]), fill.reshape(-1)[0], dtype=fill.dtype), None


def _cast(values, marks, attrs):
    from onnx import helper

    return values[0].astype(helper.tensor_dtype_to_np_dtype(attrs["to"])), marks[0]


def _arithmetic(function):
    def fold(values, marks, attrs):
        if any(m is not None and np.any(m) for m in marks):
            raise OnnxError("shape arithmetic on the batch size cannot be folded: the model would only "
                            "run at the batch size of the sample")
        return function(*values), None
    return fold


def _divide(a, b):
    if np.issubdtype(np.result_type(a, b), np.integer):
        return np.trunc(a / b).astype(np.result_type(a, b))  # ONNX integer Div truncates toward zero
    return a / b


FOLDERS = {
    "Identity": lambda values, marks, attrs: (values[0], marks[0]),
    "Cast": _cast,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "Reshape": _reshape,
    "ConstantOfShape": _constant_of_shape,
    "Transpose": lambda values, marks, attrs: (np.transpose(values[0], attrs.get("perm")), None),
    "Add": _arithmetic(np.add),
    "Sub": _arithmetic(np.subtract),
    "Mul": _arithmetic(np.multiply),
    "Div": _arithmetic(_divide),
    "Neg": _arithmetic(np.negative),
    "Sqrt": _arithmetic(np.sqrt),
    "Range": _arithmetic(lambda start, limit, delta: np.arange(start, limit, delta, dtype=np.result_type(start))),
}


def fold(op: str, values: list, marks: list, attrs: dict):
    """(value, marks) of ``op`` on constant inputs; marks are None where nothing is the batch size."""
    marks = [np.zeros(np.shape(v), dtype=bool) if m is None and v is not None else m
             for v, m in zip(values, marks, strict=True)]
    value, out_marks = FOLDERS[op](values, marks, attrs)
    return np.asarray(value), out_marks
