"""st.onnx.export: every layer over random configurations, every block and every st.models builder,
run by onnxruntime and compared with strided to 1e-5 relative (float32); onnx.checker full_check passes."""

import json
import sys

import numpy as np
import pytest

import strided as st
from strided.models import MODEL_BUILDERS
from tests.onnx.conftest import onnx, run_onnxruntime

nn = st.nn
CONFIGS = 10  # random configurations per layer kind


def randn(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def random_conv(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 3)))
    padding = rng.choice(["pair", "int", "same", "valid"])
    padding = {"pair": (int(rng.integers(0, 3)), int(rng.integers(0, 3))), "int": int(rng.integers(0, 3)),
               "same": "same", "valid": "valid"}[padding]
    if padding == "same":
        stride = 1
    mode = str(rng.choice(["zeros", "reflect", "replicate", "circular"]))
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     bias=bool(rng.integers(2)), padding_mode=mode)


@pytest.mark.parametrize("seed", range(2 * CONFIGS))
def test_conv2d(compare, seed):
    rng = np.random.default_rng(seed)
    st.manual_seed(seed)
    conv = random_conv(rng)
    compare(conv, randn(rng, 2, conv.in_channels, int(rng.integers(9, 14)), int(rng.integers(9, 14))))


def random_pool(rng, kind):
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = (int(rng.integers(0, kernel[0] // 2 + 1)), int(rng.integers(0, kernel[1] // 2 + 1)))
    ceil_mode = bool(rng.integers(2))
    if kind == "max":
        return nn.MaxPool2d(kernel, stride, padding, dilation=(int(rng.integers(1, 3)), 1), ceil_mode=ceil_mode)
    divisor = None if ceil_mode or rng.integers(3) else int(rng.integers(1, 7))
    return nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=bool(rng.integers(2)),
                        divisor_override=divisor)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(compare, kind):
    for seed in range(2 * CONFIGS):
        rng = np.random.default_rng(seed)
        compare(random_pool(rng, kind), randn(rng, 2, 3, int(rng.integers(7, 12)), int(rng.integers(7, 12))))


@pytest.mark.parametrize("layer_class", [nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d])
@pytest.mark.parametrize("size, output", [((8, 6), 1), ((8, 6), (4, 3)), ((8, 6), (2, None)), ((6, 6), 6)])
def test_adaptive_pooling_global_and_even(compare, layer_class, size, output):
    compare(layer_class(output), randn(np.random.default_rng(0), 2, 3, *size))


@pytest.mark.parametrize("size, output", [((7, 5), 3), ((7, 7), (5, 2)), ((4, 5), (6, 9)), ((7, 7), 7)])
def test_adaptive_average_pooling_of_uneven_windows(compare, size, output):
    compare(nn.AdaptiveAvgPool2d(output), randn(np.random.default_rng(1), 2, 3, *size))


def test_adaptive_max_pooling_of_uneven_windows_is_refused_naming_the_layer(tmp_path):
    with pytest.raises(ValueError, match=r"AdaptiveMaxPool2d\(output_size=3\).*uneven windows"):
        st.onnx.export(nn.AdaptiveMaxPool2d(3), tmp_path / "m.onnx", input_shape=(2, 7, 7))


@pytest.mark.parametrize("layer_class", [nn.GlobalAvgPool2d, nn.GlobalMaxPool2d])
def test_global_pooling(compare, layer_class):
    compare(layer_class(), randn(np.random.default_rng(2), 3, 4, 5, 7))


def random_batch_norm(rng, layer_class, channels, **kwargs):
    bn = layer_class(channels, eps=float(rng.choice([1e-5, 1e-3])), **kwargs)
    bn.running_mean = randn(rng, channels)
    bn.running_var = rng.uniform(0.5, 2.0, channels).astype(np.float32)
    if bn.weight is not None:
        bn.weight.data = randn(rng, channels)
    if bn.bias is not None:
        bn.bias.data = randn(rng, channels)
    return bn


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"bias": False}, {"momentum": None}])
def test_batch_norm(compare, kwargs):
    rng = np.random.default_rng(3)
    compare(random_batch_norm(rng, nn.BatchNorm2d, 5, **kwargs), randn(rng, 3, 5, 4, 6))
    compare(random_batch_norm(rng, nn.BatchNorm1d, 5, **kwargs), randn(rng, 3, 5))
    compare(random_batch_norm(rng, nn.BatchNorm1d, 5, **kwargs), randn(rng, 3, 5, 7))


def test_batch_norm_without_running_statistics_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): with track_running_stats=False"):
        st.onnx.export(nn.BatchNorm2d(3, track_running_stats=False), tmp_path / "m.onnx", input_shape=(3, 4, 4))


ACTIVATIONS = [nn.ReLU(), nn.LeakyReLU(0.2), nn.ELU(0.7), nn.GELU(), nn.GELU("tanh"), nn.Sigmoid(), nn.Tanh(),
               nn.Softmax(dim=1), nn.Softmax(), nn.Softmax(dim=-1), nn.LogSoftmax(dim=1), nn.LogSoftmax(dim=-2),
               nn.Identity(), nn.Dropout(0.5), nn.Dropout2d(0.3)]


@pytest.mark.parametrize("layer", ACTIVATIONS, ids=lambda m: m.label())
def test_activations_and_identities(compare, layer):
    compare(layer, 3 * randn(np.random.default_rng(4), 2, 3, 4, 5))


@pytest.mark.parametrize("shape", [(4, 6), (4, 3, 6), (2, 3, 2, 6)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(compare, shape, bias):
    st.manual_seed(0)
    compare(nn.Linear(6, 5, bias=bias), randn(np.random.default_rng(5), *shape))


@pytest.mark.parametrize("start, end", [(1, -1), (2, -1), (1, 2), (0, -1), (2, 3)])
def test_flatten(compare, start, end):
    compare(nn.Sequential(nn.Flatten(start, end), nn.Tanh()), randn(np.random.default_rng(6), 2, 3, 4, 5))


PADS = [nn.ZeroPad2d((1, 2, 0, 3)), nn.ConstantPad2d((2, 0, 1, 1), 1.5), nn.ReflectionPad2d((1, 3, 2, 0)),
        nn.ReplicationPad2d(2), nn.CircularPad2d((3, 1, 0, 2)), nn.CircularPad2d(1), nn.ZeroPad2d((-1, 2, 1, -2))]


@pytest.mark.parametrize("layer", PADS, ids=lambda m: m.label())
def test_padding_layers(compare, layer):
    compare(layer, randn(np.random.default_rng(7), 2, 3, 5, 6))


def test_graph_with_add_concat_fan_out_and_two_outputs(compare):
    st.manual_seed(0)
    g = nn.Graph(inputs=("x",))
    g.add("conv1", nn.Conv2d(3, 4, 3, padding=1))
    g.add("relu1", nn.ReLU())
    g.add("conv2", nn.Conv2d(4, 4, 3, padding="same", padding_mode="reflect"), "relu1")
    g.add("sum", nn.Add(), ["conv2", "relu1", "conv1"])
    g.add("cat", nn.Concat(dim=1), ["sum", "x"])
    g.add("pool", nn.GlobalAvgPool2d(), "cat")
    g.set_outputs("pool", "sum")
    compare(g, randn(np.random.default_rng(8), 2, 3, 6, 6))


BLOCKS = [lambda: nn.ResidualBlock(4, 4), lambda: nn.ResidualBlock(4, 6, stride=2), lambda: nn.Bottleneck(8, 2),
          lambda: nn.Bottleneck(4, 3, stride=2), lambda: nn.DenseBlock(4, 3, 3), lambda: nn.DenseLayer(4, 3),
          lambda: nn.Transition(4, 2)]


@pytest.mark.parametrize("make", BLOCKS, ids=range(len(BLOCKS)))
def test_blocks(compare, make):
    st.manual_seed(1)
    block = make()
    rng = np.random.default_rng(9)
    for bn in block.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean, bn.running_var = randn(rng, bn.num_features), rng.uniform(0.5, 2, bn.num_features)
            bn.running_var = bn.running_var.astype(np.float32)
    compare(block, randn(rng, 2, block.in_channels, 8, 8))


# resnet_fpn_backbone returns a dict of maps and has no num_classes: test_export_layers_more. vgg (depth 11 by default),
# vgg16 and vgg19 are vgg11's layer kinds again at 5-10 s each; vgg13 stands for the deeper ones.
NOT_HERE = {"resnet_fpn_backbone", "vgg", "vgg16", "vgg19"}


@pytest.mark.parametrize("name", sorted(set(MODEL_BUILDERS) - NOT_HERE))
def test_every_model_builder(compare, name, monkeypatch):
    st.manual_seed(0)
    # the generic densenet builder's defaults are densenet121, tested under that name: a small one here
    kwargs = {"densenet": {"block_config": (2, 3), "growth_rate": 8, "num_init_features": 16}}.get(name, {})
    if name.startswith("vgg"):  # the same layers with a 64-wide classifier: 4096 wide is 120M weights, 20 s to build
        monkeypatch.setattr(sys.modules["strided.models.vgg"], "HIDDEN", 64)
    model = MODEL_BUILDERS[name](num_classes=7, **kwargs)
    side = max(model.min_input_size, 8)
    compare(model, randn(np.random.default_rng(10), 2, model.in_channels, side, side))


@pytest.mark.parametrize("opset", [13, 17, 21])
def test_opsets(compare, opset):
    st.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, padding_mode="circular"), nn.BatchNorm2d(4), nn.GELU(),
                          nn.MaxPool2d(2, ceil_mode=True), nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(36, 3),
                          nn.LogSoftmax(dim=1))
    compare(model, randn(np.random.default_rng(11), 2, 2, 7, 7), opset=opset)


def test_dynamic_batch_and_fixed_batch(tmp_path):
    model = st.models.lenet5()
    path = st.onnx.export(model, tmp_path / "dyn.onnx", input_shape=(1, 28, 28))
    dims = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    x = randn(np.random.default_rng(12), 5, 1, 28, 28)
    assert run_onnxruntime(path, x)[0].shape == (5, 10)
    path = st.onnx.export(model, tmp_path / "fixed.onnx", input_shape=(1, 28, 28), dynamic_batch=False)
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1


def test_metadata_props_hold_the_model_files_metadata(tmp_path):
    st.manual_seed(0)
    pre = {"mode": "L", "size": [28, 28], "mean": [0.5], "std": [0.25]}
    st.save(st.models.seed_cnn(num_classes=3), tmp_path / "m.safetensors", name="digits",
            class_names=["a", "b", "c"], input_shape=[1, 28, 28], preprocessing=pre)
    model = st.load(tmp_path / "m.safetensors")
    path = st.onnx.export(model, tmp_path / "m.onnx", metadata={"author": "tests"})  # input shape from the file
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(props["strided.class_names"]) == ["a", "b", "c"]
    assert json.loads(props["strided.input_shape"]) == [1, 28, 28]
    assert json.loads(props["strided.preprocessing"]) == pre
    assert json.loads(props["strided.name"]) == "digits"
    assert props["author"] == "tests" and props["strided.version"] == st.__version__
    assert json.loads(props["strided.spec"])["builder"] == "seed_cnn"


def test_the_eval_mode_form_is_exported_and_the_training_mode_restored(compare, tmp_path):
    st.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Dropout(0.5), nn.ReLU())
    model.train()
    st.onnx.export(model, tmp_path / "m.onnx", input_shape=(2, 5, 5))
    assert model.training and model[1].training
    compare(model, randn(np.random.default_rng(13), 2, 2, 5, 5))


@pytest.mark.parametrize("layer, message", [
    (nn.FractionalMaxPool2d(2, output_size=3), r"FractionalMaxPool2d\(kernel_size=2, output_size=3\): fractional max "
                                               r"pooling draws random windows"),
    (nn.AvgPool2d(2, ceil_mode=True, divisor_override=3), r"AvgPool2d\(.*\): divisor_override together with ceil"),
])
def test_layers_without_a_faithful_form_are_refused_in_one_line(tmp_path, layer, message):
    with pytest.raises(ValueError, match=message) as error:
        st.onnx.export(nn.Sequential(nn.ReLU(), layer), tmp_path / "m.onnx", input_shape=(2, 7, 7))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "m.onnx").exists()


def test_unknown_modules_and_bad_arguments_are_refused(tmp_path):
    class Custom(nn.ReLU):
        pass

    with pytest.raises(ValueError, match=r"has no ONNX form in strided"):
        st.onnx.export(nn.Sequential(Custom()), tmp_path / "m.onnx", input_shape=(1, 4, 4))
    with pytest.raises(ValueError, match=r"give input_shape"):
        st.onnx.export(nn.ReLU(), tmp_path / "m.onnx")
    with pytest.raises(ValueError, match=r"opset must be an int from 13 to 21"):
        st.onnx.export(nn.ReLU(), tmp_path / "m.onnx", input_shape=(1, 4, 4), opset=9)
    with pytest.raises(ValueError, match=r"has 2 inputs; export takes models of one input"):
        st.onnx.export(nn.Graph(inputs=("a", "b")).add("s", nn.Add(), ["a", "b"]), tmp_path / "m.onnx",
                       input_shape=(1, 4, 4))
    with pytest.raises(TypeError, match=r"expected a strided Module"):
        st.onnx.export("model", tmp_path / "m.onnx", input_shape=(1, 4, 4))
