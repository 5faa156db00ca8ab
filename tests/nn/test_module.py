"""The Module contract: registration, names, state dicts, modes, gradients, errors."""

import numpy as np
import pytest

import strided as st
from strided.nn import Module, Parameter, Sequential


class Scale(Module):
    """y = w * x + b, elementwise over the last axis: the smallest layer with parameters."""

    def __init__(self, features):
        super().__init__()
        self.weight = Parameter(np.ones(features))
        self.bias = Parameter(np.zeros(features))
        self.register_buffer("calls", np.zeros((), dtype=np.int64))

    def forward(self, x):
        self.calls = self.calls + 1
        self.save_for_backward(x)
        return x * self.weight.data + self.bias.data

    def backward(self, grad_out):
        (x,) = self.saved_for_backward()
        self.weight.accumulate_grad((grad_out * x).sum(axis=0))
        self.bias.accumulate_grad(grad_out.sum(axis=0))
        return grad_out * self.weight.data


class Pair(Module):
    def __init__(self):
        super().__init__()
        self.conv1 = Scale(3)
        self.block = Sequential(Scale(3), Scale(3))


def test_parameter_names_follow_pytorch():
    model = Pair()
    assert [name for name, _ in model.named_parameters()] == [
        "conv1.weight", "conv1.bias", "block.0.weight", "block.0.bias", "block.1.weight", "block.1.bias",
    ]
    assert list(model.state_dict()) == [
        "conv1.weight", "conv1.bias", "conv1.calls",
        "block.0.weight", "block.0.bias", "block.0.calls", "block.1.weight", "block.1.bias", "block.1.calls",
    ]


def test_shared_parameter_is_listed_once():
    model = Sequential(Scale(2), Scale(2))
    model[1].weight = model[0].weight
    assert len(list(model.parameters())) == 3
    assert st.param_count(model) == 6


def test_reassigning_an_attribute_moves_it_between_registries():
    layer = Scale(2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    layer.weight = np.ones(2)  # a plain array is no longer a parameter
    assert list(layer.named_parameters()) == []


def test_backward_accumulates_and_zero_grad_clears():
    model = Sequential(Scale(3), Scale(3))
    x = np.arange(6.0).reshape(2, 3)
    for _ in range(2):
        model(x)
        model.backward(np.ones((2, 3)))
    np.testing.assert_array_equal(model[0].bias.grad, [4.0, 4.0, 4.0])
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_sequential_backward_is_the_chain_rule():
    model = Sequential(Scale(2), Scale(2))
    model[0].weight.data[:] = [2.0, 3.0]
    model[1].weight.data[:] = [5.0, 7.0]
    model(np.ones((1, 2)))
    np.testing.assert_array_equal(model.backward(np.ones((1, 2))), [[10.0, 21.0]])


def test_backward_without_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Scale: backward\\(\\) needs a forward\\(\\) first"):
        Scale(2).backward(np.ones((1, 2)))


def test_no_grad_keeps_nothing_for_backward():
    layer = Scale(2)
    with st.no_grad():
        layer(np.ones((1, 2)))
    assert layer._saved is None
    with pytest.raises(RuntimeError, match="no_grad"):
        layer.backward(np.ones((1, 2)))
    assert st.is_grad_enabled()


def test_load_state_dict_reports_missing_and_unexpected_keys():
    model = Pair()
    state = {k: v.copy() for k, v in model.state_dict().items()}
    state["conv1.weight"] = np.full(3, 2.0)
    del state["block.1.bias"]
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match="missing keys \\['block.1.bias'\\], unexpected keys \\['extra'\\]"):
        model.load_state_dict(state)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["block.1.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.conv1.weight.data, [2.0, 2.0, 2.0])


def test_load_state_dict_copies_and_keeps_dtype():
    model = Scale(2).float()
    source = np.array([1.5, 2.5])
    model.load_state_dict({"weight": source, "bias": np.zeros(2), "calls": np.array(4)})
    source[0] = 99.0
    assert model.weight.data.dtype == np.float32 and model.weight.data[0] == 1.5
    assert int(model.calls) == 4


def test_load_state_dict_rejects_wrong_shape():
    with pytest.raises(ValueError, match="'weight' expects shape \\(2,\\), got \\(3,\\)"):
        Scale(2).load_state_dict({"weight": np.ones(3), "bias": np.zeros(2), "calls": np.array(0)})


def test_train_eval_reach_every_submodule():
    model = Pair()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_to_converts_parameters_and_floating_buffers_only():
    model = Pair().to(np.float32)
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.conv1.calls.dtype == np.int64
    model.double()
    assert all(p.dtype == np.float64 for p in model.parameters())


def test_sequential_indexing_and_append_checks():
    model = Sequential(Scale(1), Scale(1), Scale(1))
    assert len(model) == 3 and isinstance(model[1:], Sequential) and len(model[1:]) == 2
    assert list(model)[2] is model[2]
    with pytest.raises(ValueError, match="Sequential: expected a Module, got int"):
        model.append(3)


def test_constructor_arguments_are_remembered():
    layer = Scale(5)
    assert layer._init_args == ((5,), {})


def test_manual_seed_repeats_draws():
    st.manual_seed(7)
    a = st.get_generator().standard_normal(3)
    st.manual_seed(7)
    np.testing.assert_array_equal(a, st.get_generator().standard_normal(3))
    with pytest.raises(ValueError, match="expected an integer seed"):
        st.manual_seed(1.5)


def test_shape_formulas():
    assert st.conv_output_size(28, 3, stride=1, padding=1) == 28
    assert st.conv_output_size(7, 3, stride=2, dilation=2) == 2
    assert st.pool_output_size(5, 2, ceil_mode=True) == 3
    assert st.pool_output_size(5, 2) == 2
    # ceil_mode never starts a window in the right-hand padding (PyTorch's rule)
    assert st.pool_output_size(5, 2, stride=2, padding=1, ceil_mode=True) == 3
    assert st.pool_output_size(6, 3, stride=2, padding=1, ceil_mode=True) == 4
    assert st.functional.shapes.conv_param_count(3, 16, 3) == (3 * 3 * 3 + 1) * 16


def test_capture_outputs_records_each_leaf_in_call_order_and_restores_forward():
    model = Pair()
    x = np.ones((1, 3))
    with st.nn.capture_outputs(model) as records:
        model.conv1(x)
        model.block(x)
    assert [r.name for r in records] == ["conv1", "block.0", "block.1"]
    np.testing.assert_array_equal(records[-1].output, x)
    assert "forward" not in model.conv1.__dict__
    with st.nn.capture_outputs(model, leaves_only=False) as records:
        model.block(x)
    assert [r.name for r in records] == ["block.0", "block.1", "block"]
