"""model.fuse(): batch norms folded into the convolutions before them, for inference.

The fused copy must compute what the original computes in evaluation mode (float64 1e-12, float32 1e-5), for
plain Sequential stacks, every model builder and Graph models; it refuses to train; the original is untouched.
"""

import sys

import numpy as np
import pytest

import strided as st
from strided.models import MODEL_BUILDERS
from tests.helpers import rel_error

nn = st.nn
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def randomise_batch_norms(model, rng):
    """Statistics and affine parameters far from the 0/1 defaults, so that a wrong fold shows."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None:
            c, dtype = module.num_features, module.running_mean.dtype
            module.running_mean[...] = rng.standard_normal(c).astype(dtype)
            module.running_var[...] = rng.uniform(0.3, 3.0, c).astype(dtype)
            if module.weight is not None:
                module.weight.data[...] = rng.uniform(0.5, 1.5, c) * rng.choice([-1, 1], c)
            if module.bias is not None:
                module.bias.data[...] = rng.standard_normal(c)
    return model


def assert_fused_equals(model, x, dtype):
    model.eval()
    with st.no_grad():
        expected = model(x)
    fused = model.fuse()
    got = fused(x.copy())
    if isinstance(expected, dict):
        for key in expected:
            assert rel_error(got[key], expected[key]) <= TOL[dtype], key
    else:
        assert got.dtype == expected.dtype
        assert rel_error(got, expected) <= TOL[dtype]
    return fused


def batch_norms(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_bn_relu_stack(dtype, bias, groups):
    rng = np.random.default_rng(groups + 2 * bias)
    model = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, bias=bias, groups=groups), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 3, stride=2, padding=1, dilation=1, bias=bias, groups=groups), nn.BatchNorm2d(6), nn.ReLU(),
        nn.Conv2d(6, 6, 1, bias=bias, padding_mode="zeros"), nn.BatchNorm2d(6, affine=False),
        nn.Conv2d(6, 4, 3, padding=1, padding_mode="reflect", bias=bias), nn.BatchNorm2d(4),
        nn.Flatten(), nn.Linear(4 * 2 * 2, 3)).to(dtype)
    randomise_batch_norms(model, rng)
    x = rng.standard_normal((3, 4, 8, 8)).astype(dtype)
    fused = assert_fused_equals(model, x, dtype)
    assert batch_norms(fused) == []
    assert [type(m).__name__ for m in fused][:3] == ["Conv2d", "Identity", "ReLU"]
    assert all(m.bias is not None for m in fused.modules() if isinstance(m, nn.Conv2d))
    assert fused[0].weight.dtype == dtype


def test_the_fold_formula():
    rng = np.random.default_rng(0)
    conv, bn = nn.Conv2d(2, 3, 3).double(), randomise_batch_norms(nn.BatchNorm2d(3).double(), rng)
    folded = nn.fuse.fold_batch_norm(conv, bn)
    scale = bn.weight.data / np.sqrt(bn.running_var + bn.eps)
    np.testing.assert_allclose(folded.weight.data, conv.weight.data * scale[:, None, None, None], rtol=1e-15)
    np.testing.assert_allclose(folded.bias.data, (conv.bias.data - bn.running_mean) * scale + bn.bias.data,
                               rtol=1e-14)


# Repeats, left out to keep the suite quick (each was run once and passes): resnet_fpn_backbone is resnet18's
# blocks returning a dict; vgg, vgg11, vgg13, vgg16, vgg19 are vgg11_bn's layer kinds (without its batch norms);
# resnet, resnet18, resnet34 and the deeper CIFAR ResNets repeat resnet_cifar's Graph and blocks; resnet50's
# Bottleneck is tested on its own below; densenet121's layers are the small densenet's (5-15 s each in float64).
NOT_HERE = {"resnet_fpn_backbone", "vgg", "vgg11", "vgg13", "vgg16", "vgg19", "resnet", "resnet18", "resnet34",
            "resnet50", "resnet_cifar20", "resnet_cifar32", "resnet_cifar44", "resnet_cifar56", "densenet121"}


@pytest.mark.parametrize("name", sorted(set(MODEL_BUILDERS) - NOT_HERE))
def test_every_model_builder(name, monkeypatch):
    st.manual_seed(0)
    kwargs = {"densenet": {"block_config": (2, 3), "growth_rate": 8, "num_init_features": 16},
              "mobilenet_v2": {"width_mult": 0.5}}.get(name, {})
    if name.startswith("vgg"):  # the same layers with a 64-wide classifier: 4096 wide is 120M weights
        monkeypatch.setattr(sys.modules["strided.models.vgg"], "HIDDEN", 64)
    model = randomise_batch_norms(MODEL_BUILDERS[name](num_classes=5, **kwargs).double(), np.random.default_rng(1))
    side = max(model.min_input_size, 8)
    x = np.random.default_rng(2).standard_normal((2, model.in_channels, side, side))
    fused = assert_fused_equals(model, x, np.float64)
    # DenseNet's layers normalise BEFORE their convolution (BN, ReLU, conv): those stay
    left = [m for m in batch_norms(fused)]
    if not name.startswith("densenet"):
        assert left == []
    assert len(left) < len(batch_norms(model)) or not batch_norms(model)
    assert getattr(fused, "builder", None) is None  # a builder would rebuild the unfused architecture


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_residual_blocks(dtype):
    st.manual_seed(0)
    model = nn.Sequential(nn.ResidualBlock(4, 4), nn.ResidualBlock(4, 8, stride=2), nn.Bottleneck(8, 2),
                          nn.Bottleneck(8, 4, stride=2, expansion=2)).to(dtype)
    model = randomise_batch_norms(model, np.random.default_rng(3))
    fused = assert_fused_equals(model, np.random.default_rng(4).standard_normal((2, 4, 9, 9)).astype(dtype), dtype)
    assert batch_norms(fused) == []


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_graph_folds_only_a_conv_read_by_its_batch_norm_alone(dtype):
    rng = np.random.default_rng(5)
    g = nn.Graph(inputs=("x",))
    g.add("conv1", nn.Conv2d(3, 4, 3, padding=1), "x")
    g.add("bn1", nn.BatchNorm2d(4), "conv1")
    g.add("relu1", nn.ReLU(), "bn1")
    g.add("conv2", nn.Conv2d(4, 4, 3, padding=1, bias=False), "relu1")
    g.add("bn2", nn.BatchNorm2d(4), "conv2")
    g.add("sum", nn.Add(), ["bn2", "conv2"])  # conv2 has two readers: it cannot be folded
    g.add("relu2", nn.ReLU(), "sum")
    g.add("conv3", nn.Conv2d(4, 4, 1), "relu2")
    g.add("bn3", nn.BatchNorm2d(4), "conv3")
    g.add("out", nn.ReLU(), "bn3")
    g.set_outputs("out", "bn3")  # bn3 is read by the ReLU and by the caller: the ReLU must not overwrite it
    g = randomise_batch_norms(g.to(dtype), rng)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    with st.no_grad():
        expected = g.eval()(x)
    fused = g.fuse()
    got = fused(x)
    for a, b in zip(got, expected, strict=True):
        assert rel_error(a, b) <= TOL[dtype]
    assert [type(fused.bn1), type(fused.bn2), type(fused.bn3)] == [nn.Identity, nn.BatchNorm2d, nn.Identity]
    assert [n.module for n in fused.nodes if n.name == "bn1"] == [fused.bn1]


def test_what_is_not_folded():
    rng = np.random.default_rng(6)
    hooked = nn.Conv2d(2, 2, 1)
    hooked.register_forward_hook(lambda module, inputs, output: None)
    model = randomise_batch_norms(nn.Sequential(
        hooked, nn.BatchNorm2d(2),  # a hook would be lost
        nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2, track_running_stats=False),  # normalises by the batch, even in eval
        nn.BatchNorm2d(2), nn.Conv2d(2, 2, 1)).double(), rng)  # BN before a conv
    fused = assert_fused_equals(model, rng.standard_normal((3, 2, 4, 4)), np.float64)
    assert len(batch_norms(fused)) == 3


def test_the_fused_copy_cannot_train_and_the_original_is_untouched():
    rng = np.random.default_rng(7)
    model = randomise_batch_norms(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()).double(), rng)
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    x = rng.standard_normal((2, 1, 5, 5))
    fused = model.fuse()
    assert model.training and type(model[1]) is nn.BatchNorm2d
    assert all(np.array_equal(v, before[k]) for k, v in model.state_dict().items())
    assert list(fused.state_dict()) == ["0.weight", "0.bias"]
    kept = x.copy()
    y = fused(x)  # runs as under no_grad, even outside it; the in-place ReLU writes only the conv's output
    np.testing.assert_array_equal(x, kept)
    with pytest.raises(RuntimeError, match=r"fused for inference \(model.fuse\(\)\) and has no backward"):
        fused.backward(np.ones_like(y))
    with pytest.raises(RuntimeError, match=r"fused for inference \(model.fuse\(\)\) and cannot train"):
        fused.train()
    with pytest.raises(RuntimeError, match="model.fuse"):
        fused[0].train()
    fused.eval()  # evaluation mode is what it is in: allowed
    model.train()(x)
    assert model.backward(np.ones((2, 2, 3, 3))).shape == x.shape  # the original still trains
    with pytest.raises(TypeError, match="fuse: expected a strided Module"):
        nn.fuse.fuse("model")


def test_a_fused_model_file_and_onnx_round_trip(tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    import onnxruntime

    rng = np.random.default_rng(8)
    model = randomise_batch_norms(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(4 * 3 * 3, 3)), rng).eval()
    fused = model.fuse()
    x = rng.standard_normal((2, 1, 6, 6)).astype(np.float32)
    with st.no_grad():
        expected = model(x)
    loaded = st.load(st.save(fused, tmp_path / "fused.safetensors"))
    assert rel_error(loaded(x), expected) <= 1e-5
    path = st.onnx.export(fused, tmp_path / "fused.onnx", input_shape=(1, 6, 6))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x})
    assert rel_error(got, expected) <= 1e-5


def test_predictor_fuses_by_default_and_explains_the_original(tmp_path):
    pytest.importorskip("PIL")
    from strided.predictor import Predictor

    rng = np.random.default_rng(9)
    model = randomise_batch_norms(nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(8, 3)), rng)
    path = st.save(model, tmp_path / "m.safetensors", class_names=["a", "b", "c"], input_shape=[1, 8, 8])
    fused, plain = Predictor(path), Predictor(path, fuse=False)
    assert batch_norms(fused.inference_model) == [] and plain.inference_model is plain.model
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    assert rel_error(fused.predict_batch(x), plain.predict_batch(x)) <= 1e-5
    # the explain view shows the layers as trained: the first conv's maps before its batch norm
    shown = fused.explain(x[0])["layers"]
    assert shown == plain.explain(x[0])["layers"]
    assert len(batch_norms(fused.model)) == 2


def test_graph_replace_checks_its_arguments():
    g = nn.Graph().add("a", nn.ReLU())
    with pytest.raises(ValueError, match="Graph: there is no node named 'b'"):
        g.replace("b", nn.ReLU())
    with pytest.raises(ValueError, match="Graph: node 'a' needs a Module, got int"):
        g.replace("a", 3)
    tanh = nn.Tanh()
    assert g.replace("a", tanh).a is tanh and g.nodes[0].module is tanh
