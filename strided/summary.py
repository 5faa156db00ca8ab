"""``st.summary(model, input_shape)``: a Keras-style table of a model's layers.

One forward pass of a zero batch ``(1, *input_shape)`` (in eval mode, under ``no_grad``, with the
training flags and the random generator restored afterwards, so the model is left exactly as it
was) records each layer's output shape. Rows are the layers that do the work: every module without
children, plus any module that owns parameters or buffers directly. Each row shows the dotted
PyTorch name and the type, the output shape with ``None`` for the batch, and the parameter count
(weights and biases, plus buffers such as BatchNorm's running statistics, as Keras counts them).

    Model: "Sequential"   input (None, 1, 28, 28)
    _________________________________________________________________
     Layer (type)               Output Shape              Param #
    =================================================================
     0 (Conv2d)                 (None, 8, 26, 26)             80
    ...
    =================================================================
    Total params: 7,962 (31.10 KB)
    Trainable params: 7,946 (31.04 KB)
    Non-trainable params: 16 (64.00 B)
    _________________________________________________________________
"""

import numpy as np

from .grad_mode import no_grad
from .nn.capture import capture_outputs
from .rng import get_rng_state, set_rng_state

__all__ = ["summary"]

# Buffers that count things rather than hold values of the model: not parameters, even non-trainable ones.
_COUNTER_BUFFERS = ("num_batches_tracked",)
_COLUMNS = ("Layer (type)", "Output Shape", "Param #")
_MIN_WIDTHS = (29, 26, 10)  # Keras' default columns (a 65-character table)


def summary(model, input_shape, dtype=None, print_fn=print) -> list[dict]:
    """Print the table (one ``print_fn`` call per line) and return its rows.

    ``input_shape`` is one sample's shape, without the batch: ``(C, H, W)``, or ``(features,)``.
    ``dtype`` is the input's dtype: by default that of the model's parameters (float32 if none).
    Each row is a dict: ``name``, ``type``, ``output_shape`` (a tuple with None for the batch, a
    list of them for a layer with several outputs, None for a layer the forward did not call),
    ``params`` (trainable count) and ``non_trainable`` (buffer values).
    """
    input_shape = (input_shape,) if isinstance(input_shape, (int, np.integer)) else tuple(input_shape)
    if dtype is None:
        first = next(model.parameters(), None)
        dtype = np.float32 if first is None else first.data.dtype
    output, outputs = _forward_once(model, np.zeros((1, *input_shape), dtype=dtype))

    rows = []
    for name, module in model.named_modules():
        if module._modules and not _owns_values(module):
            continue  # a pure container: its layers have rows of their own
        if module is model:
            out = output  # the root is a row only when it is a single layer or owns parameters
        else:
            out = outputs.get(id(module))
        rows.append({
            "name": name,
            "type": type(module).__name__,
            "output_shape": None if out is None else _batch_shape(out),
            "params": sum(p.size for p in module._parameters.values() if p is not None),
            "non_trainable": sum(np.size(b) for n, b in module._buffers.items() if _is_counted_buffer(n, b)),
        })

    trainable = [p.data for p in model.parameters()]
    frozen = [b for n, b in model.named_buffers() if _is_counted_buffer(n.rsplit(".", 1)[-1], b)]
    lines = _table(model, (None, *input_shape), rows, trainable, frozen)
    for line in lines:
        print_fn(line)
    return rows


def _forward_once(model, x):
    """Run ``model(x)`` leaving no trace; return its output and each called submodule's first output."""
    training = {id(m): m.training for m in model.modules()}
    rng_state = get_rng_state()
    model.eval()  # batch statistics of one zero sample would be meaningless, and must not be recorded
    try:
        with no_grad(), capture_outputs(model, leaves_only=False) as records:
            output = model(x)
    finally:
        for module in model.modules():
            object.__setattr__(module, "training", training.get(id(module), module.training))
        set_rng_state(rng_state)
    outputs = {}
    for record in records:
        outputs.setdefault(id(record.module), record.output)
    return output, outputs


def _owns_values(module) -> bool:
    return any(p is not None for p in module._parameters.values()) or any(
        _is_counted_buffer(n, b) for n, b in module._buffers.items())


def _is_counted_buffer(name: str, buffer) -> bool:
    return (buffer is not None and name not in _COUNTER_BUFFERS
            and np.issubdtype(np.asarray(buffer).dtype, np.floating))


def _batch_shape(output):
    """The output's shape with None for the batch; a list of shapes for several outputs."""
    if isinstance(output, (tuple, list)):
        return [_batch_shape(o) for o in output]
    shape = np.shape(output)
    return (None, *shape[1:]) if shape else ()


def _format_shape(shape) -> str:
    if shape is None:
        return "(not called)"
    if isinstance(shape, list):
        return ", ".join(_format_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _readable_size(nbytes: int) -> str:
    """Keras' memory units: B, KB, MB, GB (powers of 1024)."""
    size = float(nbytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _count_line(label: str, arrays: list) -> str:
    count = sum(int(np.size(a)) for a in arrays)
    return f"{label}: {count:,} ({_readable_size(sum(np.asarray(a).nbytes for a in arrays))})"


def _table(model, input_shape, rows, trainable, frozen) -> list[str]:
    cells = [(f"{row['name'] or '(model)'} ({row['type']})", _format_shape(row["output_shape"]),
              f"{row['params'] + row['non_trainable']:,}") for row in rows]
    widths = [max([_MIN_WIDTHS[i], len(_COLUMNS[i]) + 2] + [len(c[i]) + 2 for c in cells]) for i in range(3)]
    width = sum(widths) + 1

    def line(values):
        return " " + values[0].ljust(widths[0]) + values[1].ljust(widths[1]) + values[2].rjust(widths[2] - 2)

    return [
        f'Model: "{type(model).__name__}"   input {_format_shape(input_shape)}',
        "_" * width,
        line(_COLUMNS),
        "=" * width,
        *(line(c) for c in cells),
        "=" * width,
        _count_line("Total params", trainable + frozen),
        _count_line("Trainable params", trainable),
        _count_line("Non-trainable params", frozen),
        "_" * width,
    ]
