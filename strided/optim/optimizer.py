"""Optimizer: the base of SGD, Adam and AdamW (torch.optim's API, on strided Parameters).

An optimizer holds *parameter groups*: lists of Parameters that share options such as the
learning rate (``param_groups[i]['lr']``, which schedulers edit). ``step()`` reads each
``Parameter.grad`` and updates ``Parameter.data`` in place, in the parameter's own dtype;
parameters whose grad is None are skipped. Per-parameter state (momentum buffers, Adam's moments)
lives in ``self.state[param]``. Frozen parameters (``requires_grad=False``) are skipped too.

``state_dict()`` has PyTorch's shape: parameters are replaced by their index in the order of the
groups, ``{'state': {index: {...}}, 'param_groups': [{'lr': ..., 'params': [indices]}]}``, with
NumPy arrays for the per-parameter state, so it can be saved and loaded into a fresh optimizer
over the same parameters to resume training exactly.
"""

import copy
from collections import defaultdict
from itertools import chain

import numpy as np

from ..nn.module import Parameter

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that every parameter group must give (PyTorch's ``required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Parameters, of ``(name, Parameter)`` pairs (as given by
    ``model.named_parameters()``), or of dicts, each a parameter group ``{'params': [...],
    'lr': ...}`` whose missing options are taken from ``defaults``.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        if isinstance(params, (Parameter, np.ndarray)):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Parameters or dicts, "
                f"got a single {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key not in ("params", "param_names"))
        return "\n".join(lines) + "\n)"

    # ----------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of Parameters (with its own options) to optimise, e.g. when unfreezing layers."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        param_group = dict(param_group)
        params = param_group["params"]
        if isinstance(params, Parameter):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters must be an ordered collection (a list), not a set")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with or without names; some names are missing")
            param_group["param_names"] = names
        for param in params:
            if not isinstance(param, Parameter):
                raise TypeError(f"optimizer can only optimize Parameters, got a {type(param).__name__}")
        param_group["params"] = params

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)

        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        existing = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if self.param_groups and ("param_names" in param_group) != ("param_names" in self.param_groups[0]):
            raise ValueError("all optimizer param groups should be with names or all without names")
        self.param_groups.append(param_group)

    # ----------------------------------------------------------------- stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: ``grad = None`` (or zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()`` if one is given."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None and p.requires_grad]  # frozen: no update
            if params:
                self._update_group(group, params)
        return loss

    def _update_group(self, group: dict, params: list) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not define its update rule")

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """``{'state': {index: {name: value}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Arrays are copies, so the dict stays as it was when taken while training goes on.
        """
        index_of = {}
        packed_groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            for param in group["params"]:
                index_of.setdefault(id(param), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            packed_groups.append(packed)
        params = {id(p): p for group in self.param_groups for p in group["params"]}
        state = {
            index_of[id(param)]: _copy_state(values)
            for param, values in self.state.items()
            if id(param) in params and values
        }
        return {"state": state, "param_groups": packed_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()`` taken from an optimizer over parameters of the same shapes.

        Options of each group (lr, betas, ...) are restored; arrays are copied and cast to each
        parameter's dtype (the step count stays a number).
        """
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: parameter group {i} has {len(group['params'])} "
                    f"parameters, the state's has {len(saved['params'])}"
                )
        param_of = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                            chain.from_iterable(g["params"] for g in self.param_groups), strict=True))
        state = defaultdict(dict)
        for index, values in state_dict["state"].items():
            if index not in param_of:
                raise ValueError(f"{type(self).__name__}.load_state_dict: state for unknown parameter index {index}")
            param = param_of[index]
            state[param] = {name: _cast_like(param, name, value) for name, value in values.items()}
        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.param_groups[:] = saved_groups
        self.state = state


def _copy_state(values: dict) -> dict:
    return {name: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v) for name, v in values.items()}


def _cast_like(param: Parameter, name: str, value):
    """A copy of ``value`` in ``param``'s dtype (arrays only), checking the shape."""
    if not isinstance(value, np.ndarray):
        return value
    if value.shape != param.data.shape:
        raise ValueError(
            f"optimizer load_state_dict: state '{name}' has shape {value.shape}, "
            f"its parameter has shape {param.data.shape}"
        )
    return np.array(value, dtype=param.data.dtype, copy=True)
