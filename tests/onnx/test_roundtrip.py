"""strided -> ONNX -> strided: the same model back (same class, identical state dict and outputs), and the
graph route (from_graph=True, what a model from elsewhere takes) equal to it; imported models export again."""

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error
from tests.onnx.conftest import run_onnxruntime

nn = st.nn


def zoo():
    """Models that together hold every exportable layer kind and block."""
    st.manual_seed(0)
    g = nn.Graph(inputs=("x",))
    g.add("pad", nn.ReflectionPad2d((1, 2, 1, 0)))
    g.add("conv", nn.Conv2d(2, 6, (3, 2), stride=(2, 1), padding="valid", groups=2))
    g.add("bn", nn.BatchNorm2d(6))
    g.add("act", nn.LeakyReLU(0.1))
    g.add("circ", nn.Conv2d(6, 6, 3, padding=1, padding_mode="circular"))
    g.add("rep", nn.ReplicationPad2d(1), "act")
    g.add("pool", nn.MaxPool2d(3, stride=1, ceil_mode=True), "rep")
    g.add("sum", nn.Add(), ["circ", "pool"])
    g.add("avg", nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False))
    g.add("elu", nn.ELU(), "avg")
    g.add("cat", nn.Concat(), ["avg", "elu"])
    g.add("adapt", nn.AdaptiveAvgPool2d(3))
    g.add("flat", nn.Flatten())
    g.add("drop", nn.Dropout(0.3))
    g.add("fc", nn.Linear(108, 5))
    g.add("bn1d", nn.BatchNorm1d(5))
    g.add("gelu", nn.GELU("tanh"))
    new = nn.Graph(inputs=("x",))  # the layers added later (GroupNorm: test_group_norm_by_the_graph_route)
    new.add("down", nn.Conv2d(3, 8, 3, stride=2, padding=1))
    new.add("act", nn.ReLU6())
    new.add("up", nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1, groups=2))
    new.add("resize", nn.Upsample(scale_factor=2, mode="bilinear"), "act")
    new.add("mix", nn.Conv2d(8, 4, 1), "resize")
    new.add("sum", nn.Add(), ["up", "mix"])
    new.add("ln2d", nn.LayerNorm2d(4))
    new.add("near", nn.Upsample(size=(20, 12)))
    new.add("tanh", nn.Hardtanh(-2, 2))
    new.add("rows", nn.Flatten(2, 3))
    new.add("conv1d", nn.Conv1d(4, 5, 3, padding=1, groups=1))
    new.add("max1d", nn.MaxPool1d(3, 2, 1))
    new.add("pool1d", nn.AdaptiveAvgPool1d(6))
    new.add("ln", nn.LayerNorm(6))
    return {"graph": (g, (2, 9, 8)), "new_layers": (new, (3, 16, 16)),
            "mobilenet_v2": (st.models.mobilenet_v2(num_classes=5, width_mult=0.25), (3, 16, 16)),
            "seed_cnn": (st.models.seed_cnn(), (1, 28, 28)),
            "resnet_cifar20": (st.models.resnet_cifar20(), (3, 16, 16)),
            "densenet_cifar": (st.models.densenet_cifar(block_config=(2, 2)), (3, 8, 8)),
            "bottleneck": (nn.Sequential(nn.Bottleneck(4, 2, stride=2), nn.GlobalMaxPool2d()), (4, 8, 8))}


MODELS = zoo()


def trained_looking(model):
    """Batch statistics that are not 0 and 1, and a batch counter, so the whole state travels."""
    rng = np.random.default_rng(0)
    model.train()
    with st.no_grad():
        for _ in range(2):
            model(rng.standard_normal((4, *MODELS_SHAPES[id(model)])).astype(np.float32))
    return model.eval()


MODELS_SHAPES = {id(model): shape for model, shape in MODELS.values()}


@pytest.mark.parametrize("name", list(MODELS))
def test_round_trip_gives_the_same_model(name, tmp_path):
    model, shape = MODELS[name]
    trained_looking(model)
    path = st.onnx.export(model, tmp_path / "m.onnx", input_shape=shape)
    back = st.onnx.load(path)
    assert type(back) is type(model)
    state, back_state = model.state_dict(), back.state_dict()
    assert list(back_state) == list(state)
    for key in state:
        assert back_state[key].dtype == state[key].dtype
        np.testing.assert_array_equal(back_state[key], state[key], err_msg=key)
    x = np.random.default_rng(1).standard_normal((3, *shape)).astype(np.float32)
    with st.no_grad():
        np.testing.assert_array_equal(back(x), model(x))

    # The graph route, which a file from elsewhere takes: same arrays (under the flat graph's names),
    # same outputs to rounding, and exported again it still runs in onnxruntime.
    graph = st.onnx.load(path, from_graph=True)
    assert isinstance(graph, nn.Graph) and type(graph) is nn.Graph
    arrays = list(graph.state_dict().values())
    for key, array in state.items():
        if array.dtype.kind == "f":
            assert any(a.shape == array.shape and np.array_equal(a, array) for a in arrays), key
    with st.no_grad():
        assert rel_error(graph(x), model(x)) <= 1e-6
    again = st.onnx.export(graph, tmp_path / "again.onnx", input_shape=shape)
    with st.no_grad():
        assert rel_error(run_onnxruntime(again, x)[0], model(x)) <= 1e-5


@pytest.mark.parametrize("opset", [13, 17])
def test_group_norm_and_layer_norm_by_the_graph_route(tmp_path, opset):
    """GroupNorm (and LayerNorm below opset 17) go out as InstanceNormalization between Reshapes, and come back
    as GroupNorm(C, C) (instance norm) between Reshapes with the weight and bias as constants: same outputs."""
    st.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 6, 3), nn.GroupNorm(3, 6), nn.ReLU(), nn.Flatten(2), nn.LayerNorm(36))
    for param in model.parameters():
        param.data = np.random.default_rng(3).standard_normal(param.shape).astype(np.float32)
    path = st.onnx.export(model, tmp_path / "m.onnx", input_shape=(3, 8, 8), opset=opset)
    graph = st.onnx.load(path, from_graph=True)
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with st.no_grad():
        assert rel_error(graph(x), model.eval()(x)) <= 1e-6


def test_round_trip_keeps_the_model_file_metadata(tmp_path):
    model = st.models.lenet5(num_classes=3)
    pre = {"mode": "L", "size": [28, 28], "mean": [0.1], "std": [0.3]}
    st.save(model, tmp_path / "m.safetensors", class_names=["x", "y", "z"], input_shape=[1, 28, 28],
            preprocessing=pre, name="tiny")
    st.onnx.export(st.load(tmp_path / "m.safetensors"), tmp_path / "m.onnx")
    for back in (st.onnx.load(tmp_path / "m.onnx"), st.onnx.load(tmp_path / "m.onnx", from_graph=True)):
        assert back.metadata == {"name": "tiny", "class_names": ["x", "y", "z"], "input_shape": [1, 28, 28],
                                 "preprocessing": pre}


def test_float64_models_go_both_ways_in_float64(tmp_path):
    model = st.models.lenet5().double().eval()
    path = st.onnx.export(model, tmp_path / "m.onnx", input_shape=(1, 16, 16))
    x = np.random.default_rng(2).standard_normal((2, 1, 16, 16))
    for back in (st.onnx.load(path), st.onnx.load(path, from_graph=True)):
        assert all(p.dtype == np.float64 for p in back.parameters())
        with st.no_grad():
            np.testing.assert_array_equal(back(x), model(x))
