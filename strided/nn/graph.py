"""Graph: a container for networks that are not a chain (skip connections, concatenations, fan-out).

Each node is a module applied to named arrays: the graph's inputs or earlier nodes' outputs.
Forward evaluates the nodes in the order they were added; backward walks them in reverse. The one
rule a chain does not need is the multivariate chain rule: an array read by several nodes gets
the SUM of the gradients those nodes hand back.
"""

import keyword
from typing import NamedTuple

import numpy as np

from .module import Module

__all__ = ["Graph"]


class _Node(NamedTuple):
    name: str
    module: Module
    inputs: tuple


class Graph(Module):
    """A directed acyclic graph of modules, built node by node.

    Forward: for each node in the order added, ``out[name] = module(*(out[i] for i in inputs))``;
    the graph returns its output node(s) (a tuple when there are several).
    Backward: in reverse order, ``module.backward(grad[name])`` gives one gradient per input, and
    the gradients reaching the same array are added (``dL/dx = sum over its readers``). It returns
    the gradient of the graph's input (a tuple with several inputs); backward of a graph with
    several outputs takes one gradient per output. An input that no output depends on gets zeros.

    Node modules are attributes named after their nodes, so parameters are named as in PyTorch
    (``conv1.weight``, ``downsample.0.weight``). A small skip-connection network::

        nn = st.nn
        g = nn.Graph(inputs=("x",))
        g.add("conv1", nn.Conv2d(8, 8, 3, padding=1), "x")
        g.add("relu1", nn.ReLU(), "conv1")
        g.add("conv2", nn.Conv2d(8, 8, 3, padding=1), "relu1")
        g.add("sum", nn.Add(), ["conv2", "x"])       # x is read twice: its gradients add up
        g.add("out", nn.ReLU(), "sum")
        g.set_outputs("out")                          # the default: the last node added
        y = g(x)
        dx = g.backward(np.ones_like(y))

    ``add(name, module)`` without inputs reads the previous node (the input, for the first one),
    so a chain with readable names is ``Graph().add("conv", ...).add("relu", ...)``. Each node's
    module produces one array. A module instance may be in one node only: a module keeps the
    state of its last call for its backward, so two calls would overwrite each other's.
    """

    def __init__(self, inputs=("x",)):
        super().__init__()
        names = _name_tuple(inputs, "Graph: inputs")
        for name in names:
            _check_identifier(name, "input")
        if len(set(names)) != len(names):
            raise ValueError(f"Graph: duplicate input names in {names}")
        self._input_names = names
        self._nodes = []
        self._output_names = None
        # Indexes kept beside the node list so that add() costs the same for the 1000th node as for
        # the first: scanning every earlier node made building quadratic (an ONNX DenseNet-121 import,
        # 431 nodes, spent 1.25 of its 1.55 s profiled in add).
        self._known = dict.fromkeys(names)  # every input and node name, in order (a dict: O(1) lookup)
        self._used_modules, self._used_modules_key = {}, None  # see _module_index

    # ----------------------------------------------------------------- building
    def add(self, name: str, module: Module, inputs=None) -> "Graph":
        """Append node ``name`` computing ``module(*inputs)``; ``inputs`` is a name or a list of names."""
        _check_identifier(name, "node")
        if name in self._known:
            raise ValueError(f"Graph: there is already an input or node named {name!r}")
        if hasattr(self, name):
            raise ValueError(f"Graph: {name!r} is the name of a Graph attribute; choose another node name")
        if not isinstance(module, Module) or module is self:
            raise ValueError(f"Graph: node {name!r} needs a Module, got {type(module).__name__}")
        self._check_not_reused(name, module)
        if inputs is None:
            if self._nodes:
                inputs = self._nodes[-1].name
            elif len(self._input_names) == 1:
                inputs = self._input_names[0]
            else:
                raise ValueError(f"Graph: node {name!r} must name its inputs (the graph has several)")
        inputs = _name_tuple(inputs, f"Graph: inputs of node {name!r}")
        for source in inputs:
            if source not in self._known:
                raise ValueError(f"Graph: node {name!r} reads {source!r}, which is neither a graph input nor an "
                                 f"earlier node (known: {', '.join(self._known)})")
        index = self._module_index()
        setattr(self, name, module)
        self._nodes.append(_Node(name, module, inputs))
        self._known[name] = None
        for inner in module.modules():
            index.setdefault(id(inner), name)
        self._used_modules_key = (id(self), len(self._nodes))
        return self

    def replace(self, name: str, module: Module) -> "Graph":
        """Put ``module`` in node ``name`` in place of its module, keeping the node's inputs and readers."""
        index = next((i for i, node in enumerate(self._nodes) if node.name == name), None)
        if index is None:
            raise ValueError(f"Graph: there is no node named {name!r}")
        if not isinstance(module, Module) or module is self:
            raise ValueError(f"Graph: node {name!r} needs a Module, got {type(module).__name__}")
        setattr(self, name, module)
        self._nodes[index] = self._nodes[index]._replace(module=module)
        return self

    def set_outputs(self, *names) -> "Graph":
        """Which arrays the graph returns: ``set_outputs("out")`` or ``set_outputs("a", "b")``."""
        if len(names) == 1 and not isinstance(names[0], str):
            names = names[0]
        names = _name_tuple(names, "Graph: outputs")
        known = self._known_names()
        for name in names:
            if name not in known:
                raise ValueError(f"Graph: output {name!r} is not an input or node (known: {', '.join(known)})")
        self._output_names = names
        return self

    @property
    def input_names(self) -> tuple:
        return self._input_names

    @property
    def output_names(self) -> tuple:
        """The outputs set, by default the last node (the inputs, in a graph without nodes)."""
        if self._output_names is not None:
            return self._output_names
        return (self._nodes[-1].name,) if self._nodes else self._input_names

    @property
    def nodes(self) -> list:
        """The nodes in evaluation order, as (name, module, inputs) tuples."""
        return list(self._nodes)

    def _known_names(self) -> tuple:
        return tuple(self._known)

    def _check_not_reused(self, name: str, module: Module) -> None:
        new = {id(m) for m in module.modules()}
        index = self._module_index()
        if not any(i in index for i in new):  # not new.isdisjoint(index): that walks the whole dict
            return
        # A hit in the index: confirm it on the nodes as they are now (a module replaced inside a node
        # since it was added, as convert_sync_batchnorm does, leaves a stale id behind) and name the node.
        for node in self._nodes:
            if any(id(m) in new for m in node.module.modules()):
                raise ValueError(
                    f"Graph: node {name!r}: {module.label()} (or a module inside it) is already used by node "
                    f"{node.name!r}; a module keeps the state of one call for its backward, so create a new one")

    def _module_index(self) -> dict:
        """id of each module inside a node -> the first node holding it; rebuilt after a copy or a pickle
        (the ids it holds are the original's then), which the key (this graph's id, its node count) detects."""
        if self._used_modules_key != (id(self), len(self._nodes)):
            self._used_modules = {}
            for node in self._nodes:
                for inner in node.module.modules():
                    self._used_modules.setdefault(id(inner), node.name)
            self._used_modules_key = (id(self), len(self._nodes))
        return self._used_modules

    # ----------------------------------------------------------------- forward and backward
    def forward(self, *xs):
        if len(xs) != len(self._input_names):
            raise ValueError(f"{self.label()}: expected {len(self._input_names)} input(s) "
                             f"({', '.join(self._input_names)}), got {len(xs)}")
        outputs = self.output_names
        readers = self._reader_counts(outputs)
        values = dict(zip(self._input_names, xs, strict=True))
        for node in self._nodes:
            args = [values[source] for source in node.inputs]
            for source in node.inputs:
                # Drop the graph's reference as soon as the last reader has it (the modules keep
                # only what their own backward needs), so peak memory stays that of a chain.
                readers[source] -= 1
                if readers[source] == 0:
                    del values[source]
            values[node.name] = node.module(*args)
            if readers[node.name] == 0:
                del values[node.name]
        self.save_for_backward(tuple((np.shape(x), getattr(x, "dtype", None)) for x in xs))
        results = tuple(values[name] for name in outputs)
        return results[0] if len(results) == 1 else results

    def backward(self, *grads_out):
        (input_specs,) = self.saved_for_backward()
        outputs = self.output_names
        if len(grads_out) != len(outputs):
            raise ValueError(f"{self.label()}: backward expected {len(outputs)} gradient(s), one per output "
                             f"({', '.join(outputs)}), got {len(grads_out)}")
        pending, owned = {}, set()

        def accumulate(name, grad):
            if name not in pending:
                pending[name] = grad  # not ours to modify: it may also be another array's gradient
                return
            if np.shape(grad) != np.shape(pending[name]):
                raise ValueError(f"{self.label()}: gradients of {name!r} have different shapes "
                                 f"{np.shape(pending[name])} and {np.shape(grad)}")
            if name in owned:
                pending[name] += grad
            else:
                pending[name] = pending[name] + grad
                owned.add(name)

        for name, grad in zip(outputs, grads_out, strict=True):
            accumulate(name, grad)
        for node in reversed(self._nodes):
            grad = pending.pop(node.name, None)
            if grad is None:
                continue  # no output depends on this node
            grads_in = node.module.backward(grad)
            del grad
            grads_in = tuple(map(self.pass_gradient, grads_in if isinstance(grads_in, tuple) else (grads_in,)))
            if len(grads_in) != len(node.inputs):
                raise ValueError(f"{self.label()}: node {node.name!r} ({node.module.label()}) returned "
                                 f"{len(grads_in)} gradient(s) for its {len(node.inputs)} input(s)")
            for source, grad_in in zip(node.inputs, grads_in, strict=True):
                accumulate(source, grad_in)
        grads_in = tuple(pending[name] if name in pending else np.zeros(shape, dtype)
                         for name, (shape, dtype) in zip(self._input_names, input_specs, strict=True))
        return grads_in[0] if len(grads_in) == 1 else grads_in

    def _reader_counts(self, outputs) -> dict:
        readers = dict.fromkeys(self._known_names(), 0)
        for node in self._nodes:
            for source in node.inputs:
                readers[source] += 1
        for name in outputs:
            readers[name] += 1
        return readers

    # ----------------------------------------------------------------- model files
    def get_config(self) -> dict:
        """How to rebuild this graph (inputs, nodes with their modules, outputs): used by model files."""
        return {
            "inputs": list(self._input_names),
            "nodes": [{"name": n.name, "module": n.module, "inputs": list(n.inputs)} for n in self._nodes],
            "outputs": list(self.output_names),
        }

    @classmethod
    def from_config(cls, config: dict) -> "Graph":
        return cls(inputs=config["inputs"])._add_nodes(config)

    def _add_nodes(self, config: dict) -> "Graph":
        for node in config["nodes"]:
            self.add(node["name"], node["module"], node["inputs"])
        return self.set_outputs(*config["outputs"])

    # ----------------------------------------------------------------- description
    def label(self) -> str:
        return f"{type(self).__name__}({', '.join(self._input_names)} -> {', '.join(self.output_names)})"

    def extra_repr(self) -> str:
        return f"inputs={self._input_names}, outputs={self.output_names}"

    def __repr__(self) -> str:
        lines, previous = [], self._input_names
        for node in self._nodes:
            wiring = "" if node.inputs == previous[-1:] else "  <- " + ", ".join(node.inputs)
            lines.append(f"({node.name}): " + repr(node.module).replace("\n", "\n  ") + wiring)
            previous = (node.name,)
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n  " + "\n  ".join(lines) + "\n)" if lines else ")")


def _name_tuple(names, what: str) -> tuple:
    names = (names,) if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{what}: expected a name or a non-empty list of names, got {names!r}")
    return tuple(names)


def _check_identifier(name, what: str) -> None:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"Graph: {what} name must be a Python identifier (like 'conv1'), got {name!r}")
