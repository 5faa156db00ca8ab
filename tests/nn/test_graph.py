"""Graph, Add and Concat: forward wiring, summed gradients at fan-out, torch parity, numerical gradients, errors."""

import weakref

import numpy as np
import pytest
import torch

import strided as st
from strided.nn import Linear, Module, Parameter, ReLU, Sequential, Tanh
from strided.nn.graph import Graph
from strided.nn.merge import Add, Concat
from tests.helpers import TOLERANCE, assert_close, check_numerical_gradients, check_torch_parity


class Scale(Module):
    """y = x * weight (per feature, last axis): the smallest layer with a parameter."""

    def __init__(self, features):
        super().__init__()
        self.weight = Parameter(np.linspace(0.5, 1.5, features))

    def forward(self, x):
        self.save_for_backward(x)
        return x * self.weight.data

    def backward(self, grad_out):
        (x,) = self.saved_for_backward()
        self.weight.accumulate_grad((grad_out * x).reshape(-1, x.shape[-1]).sum(axis=0))
        return grad_out * self.weight.data


def skip_graph(features):
    """x -> fc1 -> tanh1; sum = tanh1 + x; cat = [sum, fc1]; fc2; out = fc2 + x + sum (x read 3 times)."""
    g = Graph(inputs=("x",))
    g.add("fc1", Linear(features, features), "x")
    g.add("tanh1", Tanh(), "fc1")
    g.add("sum", Add(), ["tanh1", "x"])
    g.add("cat", Concat(dim=1), ("sum", "fc1"))
    g.add("fc2", Linear(2 * features, features), "cat")
    g.add("out", Add(), ["fc2", "x", "sum"])
    return g


class TorchSkip(torch.nn.Module):
    def __init__(self, features):
        super().__init__()
        self.fc1 = torch.nn.Linear(features, features)
        self.fc2 = torch.nn.Linear(2 * features, features)

    def forward(self, x):
        fc1 = self.fc1(x)
        total = torch.tanh(fc1) + x
        return self.fc2(torch.cat([total, fc1], dim=1)) + x + total


CASES = [(features, batch, dtype) for features in (1, 3, 5) for batch in (1, 4) for dtype in (np.float64, np.float32)]


@pytest.mark.parametrize("features,batch,dtype", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_skip_graph_matches_torch(features, batch, dtype):
    st.manual_seed(features)
    ours = skip_graph(features).to(dtype)
    x = np.random.default_rng(batch).standard_normal((batch, features)).astype(dtype)
    check_torch_parity(ours, TorchSkip(features), x)


def test_skip_graph_numerical_gradients():
    st.manual_seed(0)
    check_numerical_gradients(skip_graph(4), np.random.default_rng(0).standard_normal((3, 4)))


def test_gradients_of_an_array_read_several_times_are_summed():
    g = Graph()
    g.add("triple", Add(), ["x", "x", "x"])
    g.add("scaled", Scale(2), "x")
    g.add("out", Add(), ["triple", "scaled"])
    x = np.array([[1.0, -2.0]])
    np.testing.assert_array_equal(g(x), 3 * x + x * g.scaled.weight.data)
    grad = np.array([[0.5, 2.0]])
    np.testing.assert_array_equal(g.backward(grad), 3 * grad + grad * g.scaled.weight.data)
    np.testing.assert_array_equal(grad, [[0.5, 2.0]])  # the caller's gradient is not modified


def test_multi_input_graph_as_a_node_numerical_gradients():
    inner = Graph(inputs=("a", "b"))
    inner.add("sa", Scale(3), "a")
    inner.add("cat", Concat(dim=-1), ["sa", "b", "a"])
    inner.add("out", Tanh(), "cat")
    outer = Graph()
    outer.add("left", Scale(3), "x")
    outer.add("right", Tanh(), "x")
    outer.add("inner", inner, ["left", "right"])
    check_numerical_gradients(outer, np.random.default_rng(1).standard_normal((2, 3)))


def test_multi_input_backward_returns_a_tuple_and_unused_inputs_get_zeros():
    g = Graph(inputs=("a", "b", "unused"))
    g.add("sum", Add(), ["a", "b", "b"])
    a, b, unused = np.ones((2, 3)), np.full((2, 3), 2.0), np.zeros((4,), np.float32)
    np.testing.assert_array_equal(g(a, b, unused), 5.0)
    grad_a, grad_b, grad_unused = g.backward(np.full((2, 3), 0.5))
    np.testing.assert_array_equal(grad_a, 0.5)
    np.testing.assert_array_equal(grad_b, 1.0)
    assert grad_unused.shape == (4,) and grad_unused.dtype == np.float32 and not grad_unused.any()


def test_several_outputs_match_torch():
    st.manual_seed(3)
    g = Graph()
    g.add("fc", Linear(4, 3).double(), "x")
    g.add("act", Tanh(), "fc")
    g.add("both", Concat(), ["act", "fc"])
    g.set_outputs("act", "both", "fc")
    x = np.random.default_rng(3).standard_normal((2, 4))
    act, both, fc = g(x)
    rng = np.random.default_rng(4)
    grads = [rng.standard_normal(y.shape) for y in (act, both, fc)]
    grad_x = g.backward(*grads)

    linear = torch.nn.Linear(4, 3).double()
    linear.load_state_dict({k.split(".", 1)[1]: torch.from_numpy(v) for k, v in g.state_dict().items()})
    x_t = torch.tensor(x, requires_grad=True)
    fc_t = linear(x_t)
    act_t = torch.tanh(fc_t)
    outs = (act_t, torch.cat([act_t, fc_t], 1), fc_t)
    torch.autograd.backward(outs, [torch.from_numpy(gr) for gr in grads])
    tol = TOLERANCE[np.dtype(np.float64)]
    for ours, theirs in zip((act, both, fc), outs, strict=True):
        assert_close(ours, theirs.detach().numpy(), tol, "output")
    assert_close(grad_x, x_t.grad.numpy(), tol, "input gradient")
    assert_close(g.fc.weight.grad, linear.weight.grad.numpy(), tol, "weight gradient")


def test_parameters_are_named_after_nodes_like_torchvision():
    g = Graph()
    g.add("conv1", Scale(2))
    g.add("downsample", Sequential(Scale(2), Scale(2)), "x")
    g.add("sum", Add(), ["conv1", "downsample"])
    assert [name for name, _ in g.named_parameters()] == ["conv1.weight", "downsample.0.weight",
                                                          "downsample.1.weight"]
    assert g.conv1 is g.nodes[0].module and g.nodes[2].inputs == ("conv1", "downsample")


def test_chain_shorthand_reads_the_previous_node():
    g = Graph().add("a", Scale(2)).add("b", ReLU()).add("c", Scale(2))
    assert [node.inputs for node in g.nodes] == [("x",), ("a",), ("b",)]
    assert g.output_names == ("c",)
    x = np.array([[-1.0, 2.0]])
    np.testing.assert_allclose(g(x), np.maximum(x * g.a.weight.data, 0) * g.c.weight.data)


def test_node_no_output_depends_on_gets_no_gradient():
    g = Graph()
    g.add("used", Scale(2), "x")
    g.add("dead", Scale(2), "x")
    g.set_outputs("used")
    g(np.ones((1, 2)))
    g.backward(np.ones((1, 2)))
    assert g.used.weight.grad is not None and g.dead.weight.grad is None


class Tracked(np.ndarray):
    """An ndarray subclass, because plain arrays cannot be weakly referenced."""


class Emit(Module):
    def forward(self, x):
        return (x + 1).view(Tracked)


class Probe(Module):
    """Records whether the array behind ``ref`` is still alive when this node runs."""

    def __init__(self, ref_holder):
        super().__init__()
        self.ref_holder = ref_holder
        self.alive = None

    def forward(self, x):
        self.alive = self.ref_holder[0]() is not None
        return np.asarray(x) * 2


class Keep(Module):
    def forward(self, x):
        self.ref_holder[0] = weakref.ref(x)
        return np.asarray(x) * 1


def test_intermediate_arrays_are_freed_after_their_last_reader():
    holder = [None]
    keep = Keep()
    keep.ref_holder = holder
    g = Graph().add("emit", Emit()).add("keep", keep).add("after", Probe(holder)).add("last", Probe(holder))
    with st.no_grad():
        g(np.zeros(3))
    assert g.after.alive is False and g.last.alive is False  # 'emit' freed once 'keep' read it


def test_forward_under_no_grad_cannot_be_backpropagated():
    g = Graph().add("s", Scale(2))
    with st.no_grad():
        g(np.ones((1, 2)))
    with pytest.raises(RuntimeError, match="backward\\(\\) needs a forward\\(\\) first"):
        g.backward(np.ones((1, 2)))


def test_config_round_trip_rebuilds_the_same_graph():
    st.manual_seed(0)
    g = skip_graph(3)
    g.set_outputs("out", "cat")
    config = g.get_config()
    assert config["inputs"] == ["x"] and config["outputs"] == ["out", "cat"]
    assert [(n["name"], n["inputs"]) for n in config["nodes"]][:3] == [
        ("fc1", ["x"]), ("tanh1", ["fc1"]), ("sum", ["tanh1", "x"])]
    assert config["nodes"][0]["module"] is g.fc1
    # A fresh copy of each module, and lists turned into tuples, as a model file would hand it back.
    fresh = {**config, "inputs": ("x",), "nodes": [
        {**n, "module": type(n["module"])(*n["module"]._init_args[0], **n["module"]._init_args[1]),
         "inputs": tuple(n["inputs"])} for n in config["nodes"]]}
    rebuilt = Graph.from_config(fresh)
    rebuilt.load_state_dict(g.state_dict())
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    for ours, theirs in zip(rebuilt(x), g(x), strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert rebuilt.get_config()["outputs"] == ["out", "cat"]


def test_repr_shows_the_wiring_where_it_is_not_a_chain():
    text = repr(skip_graph(2))
    assert "(tanh1): Tanh()\n" in text and "(sum): Add()  <- tanh1, x" in text
    assert text.startswith("Graph(inputs=('x',), outputs=('out',)")


@pytest.mark.parametrize("build,message", [
    (lambda g: g.add("y", Scale(2), "nowhere"), "reads 'nowhere', which is neither a graph input nor an earlier"),
    (lambda g: g.add("a", Scale(2)).add("b", Scale(2), ["a", "later"]), "reads 'later'"),
    (lambda g: g.add("a", Scale(2)).add("a", Scale(2)), "already an input or node named 'a'"),
    (lambda g: g.add("x", Scale(2)), "already an input or node named 'x'"),
    (lambda g: g.add("conv.1", Scale(2)), "must be a Python identifier"),
    (lambda g: g.add("class", Scale(2)), "must be a Python identifier"),
    (lambda g: g.add("add", Scale(2)), "'add' is the name of a Graph attribute"),
    (lambda g: g.add("a", np.ones(2)), "needs a Module, got ndarray"),
    (lambda g: g.add("a", g), "needs a Module, got Graph"),
    (lambda g: g.add("a", Scale(2), []), "expected a name or a non-empty list of names"),
    (lambda g: g.set_outputs("missing"), "output 'missing' is not an input or node"),
])
def test_building_errors(build, message):
    with pytest.raises(ValueError, match=message):
        build(Graph())


def test_a_module_may_be_in_one_node_only():
    relu, inner = ReLU(), Scale(2)
    g = Graph().add("a", relu)
    with pytest.raises(ValueError, match="ReLU \\(or a module inside it\\) is already used by node 'a'"):
        g.add("b", relu)
    g.add("c", Sequential(inner), "x")
    with pytest.raises(ValueError, match="already used by node 'c'"):
        g.add("d", inner, "x")


def test_adding_a_node_costs_the_same_however_many_nodes_came_before(monkeypatch):
    walks = []
    original = Module.named_modules
    monkeypatch.setattr(Module, "named_modules", lambda self, prefix="": walks.append(self) or original(self, prefix))

    def walks_to_add_one(graph):
        walks.clear()
        graph.add("last", Sequential(ReLU()))
        return len(walks)

    small, large = Graph(), Graph()
    for i in range(200):
        large.add(f"n{i}", Sequential(ReLU()))
    assert walks_to_add_one(large) == walks_to_add_one(small)  # it walked all 200 earlier nodes before


def test_module_reuse_is_still_found_in_a_copy_and_after_a_module_is_replaced_inside_a_node():
    import copy
    g = Graph().add("a", Sequential(ReLU(), Scale(2))).add("b", ReLU())
    twin = copy.deepcopy(g)  # its index must hold the copy's modules, not the original's
    with pytest.raises(ValueError, match="already used by node 'a'"):
        twin.add("c", twin.a[1])
    twin.add("c", g.a[1])  # the original's module is not in the copy
    old = g.a[1]
    setattr(g.a, "1", Scale(2))  # replaced in place (as convert_sync_batchnorm does): the old one is free again
    g.add("d", old)
    with pytest.raises(ValueError, match="already used by node 'd'"):
        g.add("e", old)


@pytest.mark.parametrize("inputs", [(), "", ["a", "a"], ["1a"], 3])
def test_bad_graph_inputs(inputs):
    with pytest.raises(ValueError, match="Graph: (inputs|duplicate input|input name)"):
        Graph(inputs=inputs)


def test_several_inputs_need_named_node_inputs():
    with pytest.raises(ValueError, match="node 'a' must name its inputs"):
        Graph(inputs=("a0", "b0")).add("a", Scale(2))


def test_call_errors():
    g = Graph(inputs=("a", "b")).add("sum", Add(), ["a", "b"])
    with pytest.raises(ValueError, match="Graph\\(a, b -> sum\\): expected 2 input\\(s\\) \\(a, b\\), got 1"):
        g(np.ones(2))
    g(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="backward expected 1 gradient\\(s\\), one per output \\(sum\\), got 2"):
        g.backward(np.ones(2), np.ones(2))


class TwoGradients(Module):
    def forward(self, x):
        return x

    def backward(self, grad_out):
        return grad_out, grad_out


def test_node_returning_the_wrong_number_of_gradients():
    g = Graph().add("bad", TwoGradients())
    g(np.ones(2))
    with pytest.raises(ValueError, match="node 'bad' \\(TwoGradients\\) returned 2 gradient\\(s\\) for its 1"):
        g.backward(np.ones(2))


# ---------------------------------------------------------------- Add and Concat on their own
MERGE_SHAPES = [[(2, 3)], [(2, 3, 4, 4), (2, 3, 4, 4)], [(1, 5), (1, 5), (1, 5)], [(3, 2, 2, 1)] * 4]


@pytest.mark.parametrize("shapes", MERGE_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_add_matches_torch(shapes, dtype):
    rng = np.random.default_rng(len(shapes))
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    add = Add()
    y = add(*xs)
    xs_t = [torch.tensor(x, requires_grad=True) for x in xs]
    y_t = sum(xs_t[1:], xs_t[0]) if len(xs) > 1 else xs_t[0] * 1
    g = rng.standard_normal(y.shape).astype(dtype)
    y_t.backward(torch.from_numpy(g))
    tol = TOLERANCE[np.dtype(dtype)]
    assert y.dtype == dtype and assert_close(y, y_t.detach().numpy(), tol, "output") <= tol
    grads = add.backward(g)
    assert isinstance(grads, tuple) and len(grads) == len(xs)
    for grad, x_t in zip(grads, xs_t, strict=True):
        assert_close(grad, x_t.grad.numpy(), tol, "input gradient")


CONCAT_CASES = [([(2, 3), (2, 1)], 1), ([(2, 3, 4, 4), (2, 5, 4, 4), (2, 1, 4, 4)], 1), ([(1, 2, 3), (4, 2, 3)], 0),
                ([(2, 2, 3), (2, 2, 5)], -1), ([(3, 2, 2, 2)], 1), ([(2, 3, 2, 2), (2, 3, 1, 2)], 2)]


@pytest.mark.parametrize("shapes,dim", CONCAT_CASES, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_concat_matches_torch(shapes, dim, dtype):
    rng = np.random.default_rng(len(shapes) + dim)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    concat = Concat(dim)
    y = concat(*xs)
    xs_t = [torch.tensor(x, requires_grad=True) for x in xs]
    y_t = torch.cat(xs_t, dim=dim)
    g = rng.standard_normal(y.shape).astype(dtype)
    y_t.backward(torch.from_numpy(g))
    tol = TOLERANCE[np.dtype(dtype)]
    assert y.dtype == dtype and assert_close(y, y_t.detach().numpy(), tol, "output") == 0
    grads = concat.backward(g)
    assert isinstance(grads, tuple) and len(grads) == len(xs)
    for grad, x_t in zip(grads, xs_t, strict=True):
        assert grad.dtype == dtype and assert_close(grad, x_t.grad.numpy(), tol, "input gradient") == 0


def test_merges_numerical_gradients():
    g = Graph()
    g.add("s1", Scale(4), "x")
    g.add("t", Tanh(), "x")
    g.add("sum", Add(), ["s1", "t", "x"])
    g.add("cat", Concat(dim=0), ["sum", "t", "s1"])
    g.add("out", Tanh(), "cat")
    check_numerical_gradients(g, np.random.default_rng(2).standard_normal((3, 4)))


@pytest.mark.parametrize("module,xs,message", [
    (Add(), [np.ones((2, 3)), np.ones((2, 1))], "Add: inputs must have the same shape \\(no broadcasting\\)"),
    (Add(), [np.ones(2), np.ones(2, np.float32)], "Add: inputs must share a dtype"),
    (Add(), [], "Add: expected at least one input array, got none"),
    (Add(), [np.ones(2), [1.0, 2.0]], "Add: expected a NumPy array, got list"),
    (Add(), [np.ones(2, int)], "Add: expected a floating-point array"),
    (Concat(), [np.ones((2, 3)), np.ones((3, 3))], "Concat\\(dim=1\\): inputs must agree in every dimension but 1"),
    (Concat(2), [np.ones((2, 3))], "Concat\\(dim=2\\): expected inputs of one rank with a dimension 2"),
    (Concat(), [np.ones((2, 3)), np.ones((2, 3, 1))], "expected inputs of one rank"),
])
def test_merge_errors(module, xs, message):
    with pytest.raises(ValueError, match=message):
        module(*xs)


def test_merge_backward_checks_the_gradient_shape():
    concat = Concat()
    concat(np.ones((1, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="Concat\\(dim=1\\): backward expected a gradient of shape \\(1, 5\\)"):
        concat.backward(np.ones((1, 4)))
    with pytest.raises(ValueError, match="Concat: dim must be an integer"):
        Concat(1.5)


def test_exported_from_st_nn():
    assert (st.nn.Graph, st.nn.Add, st.nn.Concat) == (Graph, Add, Concat)


def test_a_user_graph_is_saved_and_loaded_as_a_model_file(tmp_path):
    st.manual_seed(0)
    g = skip_graph(3)
    g.set_outputs("out", "cat")
    st.save(g, tmp_path / "graph.safetensors")
    loaded = st.load(tmp_path / "graph.safetensors")
    assert type(loaded) is Graph and [n.inputs for n in loaded.nodes] == [n.inputs for n in g.nodes]
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    for ours, theirs in zip(loaded(x), g(x), strict=True):
        np.testing.assert_array_equal(ours, theirs)
