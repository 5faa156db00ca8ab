"""See what each layer produces: record every submodule's output during one forward.

Used by ``st.summary`` (output shapes), the feature-map plots and the service's explain mode.
strided has no hooks; instead each module's bound ``forward`` is wrapped for the duration of a
``with`` block, on the instance only, and restored afterwards, even if the forward fails.
"""

import contextlib
from dataclasses import dataclass

from .module import Module

__all__ = ["LayerOutput", "capture_outputs"]


@dataclass
class LayerOutput:
    name: str
    module: Module
    output: object


@contextlib.contextmanager
def capture_outputs(model: Module, leaves_only: bool = True):
    """Yield a list that fills, in call order, with a ``LayerOutput`` per submodule called.

        with capture_outputs(model) as outputs:
            model(x)
        for record in outputs: print(record.name, record.output.shape)
    """
    records = []
    wrapped = []
    for name, module in model.named_modules():
        keep = not module._modules if leaves_only else module is not model
        if not keep:
            continue
        wrapped.append(module)
        object.__setattr__(module, "forward", _recording(name, module, records))
    try:
        yield records
    finally:
        for module in wrapped:
            del module.forward  # back to the class's forward


def _recording(name, module, records):
    forward = module.forward

    def recording(*args, **kwargs):
        output = forward(*args, **kwargs)
        records.append(LayerOutput(name, module, output))
        return output

    return recording
