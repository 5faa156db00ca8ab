"""st.summary: Keras-style rows (name, type, output shape, parameters) and totals, model left untouched."""

import numpy as np
import pytest
import torch

import strided as st
from strided.nn import Module, Parameter, Sequential


def _summary(model, input_shape, **kwargs):
    lines = []
    rows = st.summary(model, input_shape, print_fn=lines.append, **kwargs)
    return rows, lines


def _footer(lines) -> dict:
    """{'Total params': 123, ...} read back from the printed table."""
    counts = {}
    for line in lines:
        label, sep, rest = line.partition(": ")
        if sep and label.endswith("params"):
            counts[label] = int(rest.split(" ")[0].replace(",", ""))
    return counts


def test_mlp_rows_shapes_and_totals_match_torch():
    model = Sequential(st.nn.Flatten(), st.nn.Linear(12, 16), st.nn.ReLU(), st.nn.Linear(16, 5, bias=False),
                       st.nn.Tanh())
    reference = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 16), torch.nn.ReLU(),
                                    torch.nn.Linear(16, 5, bias=False), torch.nn.Tanh())
    rows, lines = _summary(model, (3, 2, 2))
    assert [(r["name"], r["type"], r["output_shape"], r["params"]) for r in rows] == [
        ("0", "Flatten", (None, 12), 0),
        ("1", "Linear", (None, 16), 12 * 16 + 16),
        ("2", "ReLU", (None, 16), 0),
        ("3", "Linear", (None, 5), 16 * 5),
        ("4", "Tanh", (None, 5), 0),
    ]
    torch_total = sum(p.numel() for p in reference.parameters())
    assert _footer(lines) == {"Total params": torch_total, "Trainable params": torch_total,
                              "Non-trainable params": 0}
    assert lines[0] == 'Model: "Sequential"   input (None, 3, 2, 2)'
    assert any(line.split() == ["1", "(Linear)", "(None,", "16)", "208"] for line in lines)
    assert "Total params: 288 (1.12 KB)" in lines  # float32: 4 bytes a value


class RunningScale(Module):
    """y = x * weight, with a BatchNorm-like float buffer and an integer counter buffer."""

    def __init__(self, features):
        super().__init__()
        self.weight = Parameter(np.ones(features, dtype=np.float32))
        self.register_buffer("running_mean", np.zeros(features, dtype=np.float32))
        self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))

    def forward(self, x):
        return x * self.weight.data


class Block(Module):
    """A block that owns a parameter besides its children, has a custom forward, and an unused layer."""

    def __init__(self):
        super().__init__()
        self.gate = Parameter(np.ones(3, dtype=np.float32))
        self.inner = Sequential(st.nn.Linear(4, 3), RunningScale(3))
        self.act = st.nn.Sigmoid()
        self.unused = st.nn.Linear(3, 3)

    def forward(self, x):
        return self.act(self.inner(x)) * self.gate.data


def test_nested_blocks_own_parameters_buffers_and_uncalled_layers():
    model = Sequential(Block(), st.nn.Linear(3, 2))
    rows, lines = _summary(model, (4,))
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["0", "0.inner.0", "0.inner.1", "0.act", "0.unused", "1"]  # no pure containers
    assert by_name["0"] == {"name": "0", "type": "Block", "output_shape": (None, 3), "params": 3,
                            "non_trainable": 0}
    assert by_name["0.inner.1"]["params"] == 3 and by_name["0.inner.1"]["non_trainable"] == 3
    assert by_name["0.unused"]["output_shape"] is None
    assert any("0.unused (Linear)" in line and "(not called)" in line for line in lines)
    trainable = sum(p.size for p in model.parameters())
    assert _footer(lines) == {"Total params": trainable + 3, "Trainable params": trainable,
                              "Non-trainable params": 3}
    # The Param # column adds up to the total, as in Keras.
    assert sum(r["params"] + r["non_trainable"] for r in rows) == trainable + 3


def test_a_single_layer_and_an_int_input_shape():
    rows, lines = _summary(st.nn.Linear(3, 4), 3)
    assert rows == [{"name": "", "type": "Linear", "output_shape": (None, 4), "params": 16, "non_trainable": 0}]
    assert any("(model) (Linear)" in line for line in lines)


class Split(Module):
    def forward(self, x):
        return x[:, :2], x[:, 2:]


class TakeFirst(Module):
    def __init__(self):
        super().__init__()
        self.split = Split()

    def forward(self, x):
        return self.split(x)[0]


def test_several_outputs_are_listed():
    rows, lines = _summary(TakeFirst(), (5, 3))
    assert rows[0]["output_shape"] == [(None, 2, 3), (None, 3, 3)]
    assert any("(None, 2, 3), (None, 3, 3)" in line for line in lines)


class Recorder(Module):
    """Remembers the dtype and training flag it saw, and draws from strided's generator."""

    def __init__(self):
        super().__init__()
        self.weight = Parameter(np.ones(2))
        self.seen = []

    def forward(self, x):
        self.seen.append((x.dtype, self.training))
        st.get_generator().random()
        return x


def test_model_is_left_exactly_as_it_was():
    recorder = Recorder()
    model = Sequential(recorder, st.nn.ReLU()).double()
    model[1].eval()
    st.manual_seed(5)
    state_before = st.get_rng_state()
    _summary(model, (2,))
    assert recorder.seen == [(np.float64, False)]  # the model's dtype, in eval mode
    assert model.training and recorder.training and not model[1].training
    assert st.get_rng_state() == state_before
    assert all("forward" not in vars(m) for m in model.modules())  # wrappers removed
    with pytest.raises(RuntimeError, match="backward"):
        model.backward(np.ones((1, 2)))  # no_grad: nothing was kept for a backward


class Broken(Module):
    def forward(self, x):
        raise ValueError("Broken: expected nothing")


def test_a_failing_forward_propagates_and_restores_the_model():
    model = Sequential(st.nn.ReLU(), Broken())
    with pytest.raises(ValueError, match="Broken: expected nothing"):
        _summary(model, (3,))
    assert model.training and all(m.training for m in model.modules())
    assert all("forward" not in vars(m) for m in model.modules())


def test_explicit_dtype_is_used():
    recorder = Recorder()
    _summary(Sequential(recorder), (2,), dtype=np.float32)
    assert recorder.seen == [(np.float32, False)]


def test_batch_norm_statistics_are_non_trainable_and_untouched():
    model = Sequential(st.nn.Linear(6, 8), st.nn.BatchNorm1d(8), st.nn.ReLU(), st.nn.Dropout(0.5),
                       st.nn.Linear(8, 3))
    reference = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                    torch.nn.Dropout(0.5), torch.nn.Linear(8, 3))
    before = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    rows, lines = _summary(model, (6,))  # in training mode, a batch of one would break batch norm
    trainable = sum(p.numel() for p in reference.parameters())
    running = sum(b.numel() for name, b in reference.named_buffers() if "running" in name)
    assert _footer(lines) == {"Total params": trainable + running, "Trainable params": trainable,
                              "Non-trainable params": running}
    assert [(r["type"], r["params"], r["non_trainable"]) for r in rows][1] == ("BatchNorm1d", 16, 16)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training and all(m.training for m in model.modules())


def _torch_output_shapes(model, x) -> dict:
    """Each torch submodule's output shape, by name, with None for the batch."""
    shapes, handles = {}, []
    for name, module in model.named_modules():
        if name:
            handles.append(module.register_forward_hook(
                lambda m, i, out, name=name: shapes.__setitem__(name, (None, *out.shape[1:]))))
    with torch.no_grad():
        model.eval()(x)
    for handle in handles:
        handle.remove()
    return shapes


def test_conv_network_shapes_and_counts_match_torch():
    def build(nn):
        return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.MaxPool2d(2, ceil_mode=True),
                             nn.ReLU(), nn.Conv2d(8, 6, (3, 2), stride=2, groups=2, bias=False),
                             nn.AvgPool2d(3, stride=1, padding=1), nn.AdaptiveAvgPool2d((2, 3)), nn.Flatten(),
                             nn.Linear(36, 5))

    model, reference = build(st.nn), build(torch.nn)
    rows, lines = _summary(model, (3, 9, 8))
    expected = _torch_output_shapes(reference, torch.zeros(1, 3, 9, 8))
    assert {r["name"]: r["output_shape"] for r in rows} == expected
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in reference.named_children()}
    assert {r["name"]: r["params"] for r in rows} == counts
    trainable = sum(p.numel() for p in reference.parameters())
    assert _footer(lines)["Trainable params"] == trainable
