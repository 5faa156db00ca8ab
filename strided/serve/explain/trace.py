"""One forward pass, recorded step by step: what every module read, what it produced, and from whom.

The web page needs more than each layer's output: to show which input window a feature-map pixel
reads, it must know which earlier step produced the array a layer read. strided has no autograd
tape, so this module wraps each submodule's ``forward`` (on the instance, for one call, as
``strided.nn.capture`` does) and follows arrays by identity:

- a step's inputs are the steps that produced the arrays it was called with (-1: the image);
- an array no recorded step produced (a residual sum, a concatenation: plain NumPy inside a
  block's forward) is attributed to what the innermost running block can have combined: its
  inputs and the outputs made inside it that nothing has read yet (DenseBlock's earlier layers);
- a block whose output is a new array (ResidualBlock: ``relu(main + shortcut)``) records its
  "sinks", the steps inside it whose outputs no other step read: the branches that were summed.

Outputs are copied when they are produced, because an in-place ReLU later overwrites the array
(the batch-norm output it rectifies would otherwise be shown after the ReLU).
"""

from dataclasses import dataclass, field

import numpy as np

from ...nn.module import Module

IMAGE = -1  # the producer index of the network's input


@dataclass
class Step:
    index: int
    name: str
    module: Module
    reads: list  # (producer index, (H, W) of the array read), per array argument and producer
    output: np.ndarray  # a copy of the first sample's output
    leaf: bool
    first_input: np.ndarray | None = None  # a copy of what conv and pooling layers read (first sample)
    sinks: list = field(default_factory=list)  # blocks with a new output: the branches inside them
    passes_input: bool = False  # a block whose output may contain its input directly (identity/concat)


WINDOWED = ("Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d")


class Trace:
    """``with Trace(model) as trace: logits = model(x)`` fills ``trace.steps`` in completion order."""

    def __init__(self, model: Module):
        self.model = model
        self.steps: list[Step] = []
        self._producer = {}  # id(array) -> step index
        self._alive = []  # the arrays whose ids are in _producer: kept alive so ids are not reused
        self._stack = []  # (block's input producers, index of the first step inside it)
        self._wrapped = []

    def __enter__(self):
        for name, module in self.model.named_modules():
            if module is self.model:
                continue
            self._wrapped.append(module)
            object.__setattr__(module, "forward", self._recording(name, module))
        return self

    def __exit__(self, *exc_info):
        for module in self._wrapped:
            del module.forward  # back to the class's forward
        self._wrapped.clear()

    def mark_input(self, x) -> None:
        """Say which array is the network's input (call before the forward)."""
        self._remember(x, IMAGE)

    def _remember(self, array, index: int) -> None:
        self._producer[id(array)] = index
        self._alive.append(array)

    def _reads(self, args) -> list:
        found = []
        for a in args:
            if not isinstance(a, np.ndarray):
                continue
            hw = tuple(a.shape[-2:]) if a.ndim == 4 else (1, 1)
            if id(a) in self._producer:
                found.append((self._producer[id(a)], hw))
            elif self._stack:  # computed by plain NumPy inside the running block (a sum, a concatenation)
                block_reads, first = self._stack[-1]
                found.extend((producer, hw) for producer, _ in block_reads)
                found.extend((i, hw) for i in self._unread_since(first) if self.steps[i].output.shape[-2:] == hw)
            else:
                found.append((IMAGE, hw))
        return list(dict.fromkeys(found))

    def _unread_since(self, first: int) -> list:
        """Steps from ``first`` on whose outputs no step has read yet: what a block may combine next."""
        read = {i for s in self.steps[first:] for i, _ in s.reads}
        return [i for i in range(first, len(self.steps)) if i not in read]

    def _recording(self, name: str, module: Module):
        forward = module.forward
        leaf = not module._modules

        def recording(*args, **kwargs):
            reads = self._reads(args)
            first = len(self.steps)
            if not leaf:
                self._stack.append((reads, first))
            try:
                output = forward(*args, **kwargs)
            finally:
                if not leaf:
                    self._stack.pop()
            if not isinstance(output, np.ndarray):
                return output
            arrays = [a for a in args if isinstance(a, np.ndarray)]
            step = Step(len(self.steps), name, module, reads, np.array(output[0]), leaf)
            if leaf and type(module).__name__ in WINDOWED and arrays:
                step.first_input = np.array(arrays[0][0])
            inner = range(first, len(self.steps))
            produced_inside = id(output) in self._producer and self._producer[id(output)] in inner
            if not leaf and produced_inside:
                return output  # a container handing on a child's array (Sequential): nothing new to record
            if not leaf:
                step.sinks = [i for i in self._unread_since(first) if self.steps[i].output.ndim == output.ndim - 1]
                step.passes_input = True
            self.steps.append(step)
            self._remember(output, step.index)
            return output

        return recording
