"""st.onnx.export of the layers added after the first ONNX work: ConvTranspose2d, Upsample (Resize), LayerNorm,
LayerNorm2d, GroupNorm, Conv1d and the 1-d pools, ReLU6, Hardtanh, InvertedResidual; onnxruntime agrees with
strided to 1e-5 relative (float32) over random configurations; the modules without a one-array form are refused."""

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error
from tests.onnx.conftest import onnx
from tests.onnx.test_export import randn

nn = st.nn
CONFIGS = 10


def random_conv_transpose(rng):
    groups = int(rng.choice([1, 1, 2, 3]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dilation = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    padding = (int(rng.integers(0, kernel[0])), int(rng.integers(0, kernel[1])))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation, strict=True))
    return nn.ConvTranspose2d(cin, cout, kernel, stride=stride, padding=padding, output_padding=output_padding,
                              groups=groups, bias=bool(rng.integers(2)), dilation=dilation)


@pytest.mark.parametrize("seed", range(2 * CONFIGS))
def test_conv_transpose2d(compare, seed):
    rng = np.random.default_rng(seed)
    st.manual_seed(seed)
    conv = random_conv_transpose(rng)
    compare(conv, randn(rng, 2, conv.in_channels, int(rng.integers(3, 8)), int(rng.integers(3, 8))))


@pytest.mark.parametrize("padding, output_padding, bias", [((2, 1), (2, 1), True), ((0, 3), (2, 2), True),
                                                          ((1, 0), (2, 1), False)])
def test_conv_transpose2d_with_output_padding_beyond_the_stride(compare, padding, output_padding, bias):
    """PyTorch allows output_padding < dilation, onnxruntime only < stride: rows taken back from the padding
    and rows of bias alone (where output_padding exceeds the padding)."""
    st.manual_seed(0)
    conv = nn.ConvTranspose2d(4, 6, 3, stride=(1, 2), padding=padding, output_padding=output_padding, groups=2,
                              bias=bias, dilation=3)
    compare(conv, randn(np.random.default_rng(0), 2, 4, 5, 4))


UPSAMPLES = [
    (nn.Upsample(scale_factor=2), (5, 6)), (nn.Upsample(scale_factor=(3, 1.5)), (4, 5)),
    (nn.Upsample(scale_factor=2.3), (5, 7)), (nn.Upsample(size=(7, 9)), (4, 5)), (nn.Upsample(size=(3, 10)), (7, 6)),
    (nn.Upsample(size=5), (3, 4)), (nn.Upsample(scale_factor=1.7, mode="bilinear"), (4, 5)),
    (nn.Upsample(size=(7, 9), mode="bilinear"), (4, 5)), (nn.Upsample(size=(1, 3), mode="bilinear"), (4, 5)),
    (nn.Upsample(size=(7, 9), mode="bilinear", align_corners=True), (4, 5)),
    (nn.Upsample(scale_factor=0.6, mode="bilinear", align_corners=True), (6, 8)),
    (nn.Upsample(scale_factor=2.5, mode="nearest-exact"), (4, 5)),
    (nn.Upsample(scale_factor=1.3, mode="bilinear", recompute_scale_factor=True), (5, 7)),
    (nn.UpsamplingNearest2d(scale_factor=2), (3, 4)), (nn.UpsamplingBilinear2d(size=(6, 11)), (3, 4)),
    (nn.Upsample(scale_factor=3, mode="linear"), (5,)), (nn.Upsample(size=8, mode="nearest"), (5,)),
]


@pytest.mark.parametrize("layer, size", UPSAMPLES, ids=[f"{i}-{m.label()}" for i, (m, _) in enumerate(UPSAMPLES)])
def test_upsample_as_resize(compare, layer, size):
    compare(layer, randn(np.random.default_rng(1), 2, 3, *size))


@pytest.mark.parametrize("opset", [13, 17])
@pytest.mark.parametrize("make, shape", [
    (lambda: nn.LayerNorm(5), (2, 3, 5)), (lambda: nn.LayerNorm((4, 5), eps=1e-3), (2, 3, 4, 5)),
    (lambda: nn.LayerNorm(6, elementwise_affine=False), (3, 6)), (lambda: nn.LayerNorm(6, bias=False), (2, 4, 6)),
    (lambda: nn.LayerNorm2d(3), (2, 3, 4, 5)), (lambda: nn.GroupNorm(2, 4), (2, 4, 3, 5)),
    (lambda: nn.GroupNorm(3, 6, eps=1e-3), (2, 6, 7)), (lambda: nn.GroupNorm(1, 4), (2, 4, 3, 3)),
    (lambda: nn.GroupNorm(4, 4, affine=False), (3, 4, 2, 5))], ids=range(9))
def test_layer_and_group_norm(compare, make, shape, opset):
    rng = np.random.default_rng(2)
    layer = make()
    for param in layer.parameters():  # away from ones and zeros, so a swapped weight/bias would show
        param.data = randn(rng, *param.shape)
    compare(layer, 2 * randn(rng, *shape) + 1, opset=opset)


def random_conv1d(rng):
    groups = int(rng.choice([1, 1, 2]))
    cin, cout = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    kernel, dilation = int(rng.integers(1, 5)), int(rng.integers(1, 3))
    padding = rng.choice(["int", "same", "valid"])
    padding = {"int": int(rng.integers(0, 3)), "same": "same", "valid": "valid"}[padding]
    stride = 1 if padding == "same" else int(rng.integers(1, 4))
    mode = str(rng.choice(["zeros", "reflect", "replicate", "circular"]))
    return nn.Conv1d(cin, cout, kernel, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     bias=bool(rng.integers(2)), padding_mode=mode)


@pytest.mark.parametrize("seed", range(CONFIGS))
def test_conv1d(compare, seed):
    rng = np.random.default_rng(seed)
    st.manual_seed(seed)
    conv = random_conv1d(rng)
    compare(conv, randn(rng, 2, conv.in_channels, int(rng.integers(9, 16))))


def test_1d_pools(compare):
    for seed in range(CONFIGS):
        rng = np.random.default_rng(seed)
        kernel, stride = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        padding, ceil_mode = int(rng.integers(0, kernel // 2 + 1)), bool(rng.integers(2))
        x = randn(rng, 2, 3, int(rng.integers(7, 13)))
        compare(nn.MaxPool1d(kernel, stride, padding, dilation=int(rng.integers(1, 3)), ceil_mode=ceil_mode), x)
        compare(nn.AvgPool1d(kernel, stride, padding, ceil_mode, count_include_pad=bool(rng.integers(2))), x)
    x = randn(np.random.default_rng(3), 2, 3, 12)
    for output in (1, 3, 5, 12):
        compare(nn.AdaptiveAvgPool1d(output), x)
    for output in (1, 4, 6):
        compare(nn.AdaptiveMaxPool1d(output), x)


@pytest.mark.parametrize("layer", [nn.ReLU6(), nn.Hardtanh(), nn.Hardtanh(-0.5, 2.5)], ids=lambda m: repr(m))
def test_clipping_activations(compare, layer):
    compare(layer, 4 * randn(np.random.default_rng(4), 2, 3, 4, 5))


@pytest.mark.parametrize("args", [(8, 8, 1, 6), (8, 16, 2, 1), (8, 8, 2, 3), (6, 6, 1, 1)], ids=str)
def test_inverted_residual(compare, args):
    st.manual_seed(0)
    block = nn.InvertedResidual(*args)
    rng = np.random.default_rng(5)
    for bn in block.modules():
        if isinstance(bn, nn.BatchNorm2d):
            bn.running_mean = randn(rng, bn.num_features)
            bn.running_var = rng.uniform(0.5, 2, bn.num_features).astype(np.float32)
    compare(block, randn(rng, 2, args[0], 6, 6))


def test_a_graph_of_the_new_layers(compare):
    """A small U-Net-like decoder and a 1-d head: the new layers in one graph, with Add and Concat."""
    st.manual_seed(0)
    g = nn.Graph(inputs=("x",))
    g.add("down", nn.Conv2d(3, 8, 3, stride=2, padding=1))
    g.add("norm", nn.GroupNorm(2, 8))
    g.add("act", nn.ReLU6())
    g.add("up", nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1))
    g.add("resize", nn.Upsample(scale_factor=2, mode="bilinear"), "act")
    g.add("mix", nn.Conv2d(8, 4, 1), "resize")
    g.add("sum", nn.Add(), ["up", "mix"])
    g.add("cat", nn.Concat(), ["sum", "x"])
    g.add("ln", nn.LayerNorm2d(7))
    g.add("rows", nn.Flatten(2, 3))
    g.add("conv1d", nn.Conv1d(7, 5, 3, padding=1))
    g.add("pool1d", nn.AdaptiveAvgPool1d(4))
    g.add("tanh", nn.Hardtanh())
    compare(g, randn(np.random.default_rng(6), 2, 3, 8, 8))


@pytest.mark.parametrize("make, shape", [
    (lambda: st.models.resnet_fpn_backbone("resnet_cifar20", out_channels=8), (3, 16, 16)),
    (lambda: st.models.resnet_fpn_backbone("resnet18", out_channels=8, returned_layers=[2, 4]), (3, 40, 40)),
    (lambda: st.models.feature_extractor(st.models.resnet_cifar20(), {"layer1": "a", "layer3.0": "b"}),
     (3, 12, 12)),
], ids=["resnet_fpn_backbone-cifar20", "resnet_fpn_backbone-resnet18", "feature_extractor"])
def test_feature_pyramids_and_extractors_export_one_output_per_map(compare, tmp_path, make, shape):
    """The dict of maps becomes output_0, output_1, ... in the dict's order. st.onnx.load gives the backbone
    back from its architecture (a feature extractor has no model-file form: the graph route, a Graph of as
    many outputs), with the same maps."""
    st.manual_seed(0)
    model = make()
    x = randn(np.random.default_rng(7), 2, *shape)
    compare(model, x)
    outputs = [o.name for o in onnx.load(str(tmp_path / "model.onnx")).graph.output]
    back = st.onnx.load(tmp_path / "model.onnx")
    assert type(back) is (nn.Graph if isinstance(model, st.models.FeatureExtractor) else type(model))
    with st.no_grad():
        expected = list(model(x).values())
        got = back(x)
    got = list(got.values()) if isinstance(got, dict) else list(got)
    assert outputs == [f"output_{i}" for i in range(len(expected))] and len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        assert rel_error(ours, theirs) <= 1e-6


@pytest.mark.parametrize("make, message", [
    (lambda: nn.FeaturePyramidNetwork([4, 8], 4), r"FeaturePyramidNetwork\(\[4, 8\] -> 4\) takes a dict of feature"),
    (lambda: nn.Sequential(nn.ReLU(), nn.ModuleList([nn.ReLU()])), r"ModuleList only holds modules"),
    (lambda: nn.ModuleDict({"a": nn.ReLU()}), r"ModuleDict only holds modules"),
    (lambda: nn.AdaptiveMaxPool1d(5), r"^AdaptiveMaxPool1d\(output_size=5\): adaptive max pooling of 1x12 to 1x5 "),
], ids=range(4))
def test_modules_without_a_one_array_form_are_refused_in_one_line(tmp_path, make, message):
    with pytest.raises(ValueError, match=message) as error:
        st.onnx.export(make(), tmp_path / "m.onnx", input_shape=(4, 12))
    assert "\n" not in str(error.value)
    assert not (tmp_path / "m.onnx").exists()
