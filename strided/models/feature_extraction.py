"""Feature extraction: a model's intermediate outputs by name, forward and backward (torchvision's
``create_feature_extractor``).

    body = st.models.feature_extractor(st.models.resnet18(), {"layer2": "c3", "layer4": "c5"})
    features = body(x)                         # {"c3": (N, 128, H/8, W/8), "c5": (N, 512, H/32, W/32)}
    dx = body.backward({"c5": grad_c5})        # any subset of the outputs; the others count as zero

A node is a module's qualified name in the model (``layer1``, ``features.3``, ``layer2.0``): what
``named_modules()`` lists, reached through containers (Sequential, Graph and the models built on
them). Its output is that module's output. A block with a hand-written forward (a ResidualBlock, an
InvertedResidual) is one node: its insides cannot be returned, since its backward is one function.

How. The model is unrolled into a flat list of steps (module, input steps), expanding only the
containers that hold a requested node, and pruned to the steps the requested outputs depend on, as
torchvision prunes its traced graph (a ResNet body stops at ``layer4``: no pooling, no ``fc``).
Backward walks the steps in reverse and, like Graph, adds the gradients of an array read twice.
The extractor's parameters keep the model's names (``layer1.0.conv1.weight``), and are the model's
own arrays: training one trains the other.
"""

from typing import NamedTuple

import numpy as np

from ..nn.container import Sequential
from ..nn.graph import Graph
from ..nn.module import Module

__all__ = ["FeatureExtractor", "create_feature_extractor", "feature_extractor", "get_graph_node_names"]

INPUT = "<input>"


class _Step(NamedTuple):
    name: str  # the module's qualified name, the node name users pass
    module: Module
    inputs: tuple  # names of the steps (or INPUT) it reads


def get_graph_node_names(model: Module) -> tuple:
    """The names ``feature_extractor`` accepts, in execution order, containers after their insides (torchvision
    returns the train- and the eval-mode names; strided's graphs are the same in both modes: two equal lists)."""
    names = _unroll(model, expand=lambda name: True).names
    return names, list(names)


def _is_container(module) -> bool:
    return type(module) is Sequential or isinstance(module, Graph)


class _Unrolled(NamedTuple):
    steps: list  # _Step, in execution order
    names: list  # every node name (steps and the containers opened), in execution order
    aliases: dict  # an opened container's name -> the step whose output is its output


def _unroll(model: Module, expand) -> _Unrolled:
    """``model`` as a flat list of steps, containers opened where ``expand(name)``."""
    unrolled = _Unrolled([], [], {})

    def visit(prefix, module, source):
        if type(module) is Sequential:
            for name, child in module.named_children():
                source = add(f"{prefix}{name}", child, (source,))
            return source
        if len(module.input_names) != 1 or len(module.output_names) != 1:
            raise ValueError(f"feature_extractor: {module.label()} at {prefix[:-1] or 'the top'} has "
                             f"{len(module.input_names)} inputs and {len(module.output_names)} outputs; "
                             "only graphs of one input and one output can be unrolled")
        known = {module.input_names[0]: source}
        for node in module.nodes:
            known[node.name] = add(f"{prefix}{node.name}", node.module, tuple(known[i] for i in node.inputs))
        return known[module.output_names[0]]

    def add(name, module, inputs):
        if _is_container(module) and expand(name):
            output = visit(name + ".", module, inputs[0])
            unrolled.aliases[name] = output
        else:
            unrolled.steps.append(_Step(name, module, inputs))
            output = name
        unrolled.names.append(name)
        return output

    if not _is_container(model):
        raise ValueError(f"feature_extractor: expected a Sequential or a Graph model (any strided.models builder), "
                         f"got {type(model).__name__}")
    visit("", model, INPUT)
    return unrolled


class FeatureExtractor(Module):
    """``model``'s outputs at ``return_nodes`` (node name -> output name), as a dict in that order.

    Forward: the unrolled steps up to the last one needed; out[name] = module(*inputs).
    Backward(grads): ``grads`` maps output names to gradients (a subset is fine: the others are zero);
    steps run their backward in reverse, gradients of an array read by several steps are summed, steps
    that no given gradient reaches are skipped; returns dL/dx.
    """

    def __init__(self, model: Module, return_nodes):
        super().__init__()
        if isinstance(return_nodes, (list, tuple)):
            return_nodes = {name: name for name in return_nodes}
        if not isinstance(return_nodes, dict) or not return_nodes:
            raise ValueError(f"feature_extractor: return_nodes must be a non-empty list of node names or a dict "
                             f"node -> output name, got {return_nodes!r}")
        nodes = {str(node): str(out) for node, out in return_nodes.items()}
        if len(set(nodes.values())) != len(nodes):
            raise ValueError(f"feature_extractor: output names must differ, got {list(nodes.values())}")

        def inside_a_request(name):  # open a container only to reach a requested node inside it
            return any(node.startswith(name + ".") for node in nodes)

        unrolled = _unroll(model, inside_a_request)
        missing = [node for node in nodes if node not in unrolled.names]
        if missing:
            raise ValueError(f"feature_extractor: {missing} not among the nodes of {model.label()} "
                             f"(get_graph_node_names(model) lists them: {', '.join(get_graph_node_names(model)[0])})")
        self._sources = {node: unrolled.aliases.get(node, node) for node in nodes}  # node -> step computing it
        needed = set(self._sources.values())
        for step in reversed(unrolled.steps):  # keep only what the outputs depend on
            if step.name in needed:
                needed.update(step.inputs)
        self._steps = [step for step in unrolled.steps if step.name in needed]
        self._outputs = nodes  # node -> output name
        self._adopt_modules(model)

    def _adopt_modules(self, model: Module) -> None:
        """Register each step's module under its qualified name, so parameter names match the model's."""
        holders = {"": self}
        for step in self._steps:
            path = step.name.split(".")
            for depth in range(1, len(path)):
                prefix = ".".join(path[:depth])
                if prefix not in holders:
                    holder = Module()
                    setattr(holders[".".join(path[:depth - 1])], path[depth - 1], holder)
                    holders[prefix] = holder
            setattr(holders[".".join(path[:-1])], path[-1], step.module)

    @property
    def return_nodes(self) -> dict:
        return dict(self._outputs)

    def forward(self, x):
        values = {INPUT: x}
        for step in self._steps:
            values[step.name] = step.module(*(values[source] for source in step.inputs))
        self.save_for_backward(np.shape(x), getattr(x, "dtype", None))
        return {out: values[self._sources[node]] for node, out in self._outputs.items()}

    def backward(self, grads: dict):
        shape, dtype = self.saved_for_backward()
        if not isinstance(grads, dict):
            raise ValueError(f"{self.label()}: backward expected a dict of gradients by output name, "
                             f"got {type(grads).__name__}")
        by_output = {out: self._sources[node] for node, out in self._outputs.items()}
        unknown = sorted(set(grads) - set(by_output))
        if unknown:
            raise ValueError(f"{self.label()}: backward got gradients for {unknown}, which are not outputs "
                             f"({', '.join(by_output)})")
        pending = {}

        def accumulate(name, grad):
            pending[name] = grad if name not in pending else pending[name] + grad

        for out, grad in grads.items():
            if grad is not None:
                accumulate(by_output[out], grad)
        for step in reversed(self._steps):
            grad = pending.pop(step.name, None)
            if grad is None:
                continue
            grads_in = step.module.backward(grad)
            grads_in = tuple(map(self.pass_gradient, grads_in if isinstance(grads_in, tuple) else (grads_in,)))
            for source, grad_in in zip(step.inputs, grads_in, strict=True):
                accumulate(source, grad_in)
        return pending.get(INPUT, np.zeros(shape, dtype))

    def label(self) -> str:
        return f"FeatureExtractor({', '.join(self._outputs.values())})"

    def extra_repr(self) -> str:
        return f"return_nodes={self._outputs}"


def feature_extractor(model: Module, return_nodes) -> FeatureExtractor:
    """A module returning ``model``'s intermediate outputs: ``return_nodes`` is a list of node names or a dict
    node name -> output name (torchvision's ``create_feature_extractor(model, return_nodes)``)."""
    return FeatureExtractor(model, return_nodes)


create_feature_extractor = feature_extractor  # torchvision's name
