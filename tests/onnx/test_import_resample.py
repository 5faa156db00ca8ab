"""st.onnx.load of ConvTranspose and Resize: PyTorch's nn.ConvTranspose2d and F.interpolate exported with
torch.onnx.export(dynamo=False) give PyTorch's outputs, input and weight gradients to 1e-4 relative; hand-written
ConvTranspose forms (asymmetric pads, output_shape, auto_pad) give onnxruntime's to 1e-5; refusals in one line."""

import warnings

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error
from tests.onnx.conftest import onnx, record
from tests.onnx.test_import_ops import import_and_compare, make_model, randn

torch = pytest.importorskip("torch")
helper = onnx.helper


class Decoder(torch.nn.Module):
    """A transposed convolution, then F.interpolate as given."""

    def __init__(self, conv, **interpolate):
        super().__init__()
        self.conv, self.interpolate = conv, interpolate

    def forward(self, x):
        y = self.conv(x)
        return torch.nn.functional.interpolate(y, **self.interpolate) if self.interpolate else y


CASES = [
    (dict(in_channels=4, out_channels=6, kernel_size=3, stride=2, padding=1, output_padding=1, groups=2), {}),
    (dict(in_channels=3, out_channels=5, kernel_size=(2, 4), stride=(3, 1), padding=(0, 2), dilation=(1, 2),
          bias=False), {}),
    (dict(in_channels=4, out_channels=4, kernel_size=3, stride=1, padding=2, output_padding=2, dilation=3,
          groups=4), {}),
    (dict(in_channels=4, out_channels=6, kernel_size=2, stride=2), dict(scale_factor=2.0, mode="nearest")),
    (dict(in_channels=4, out_channels=6, kernel_size=2, stride=2), dict(size=(13, 17), mode="nearest")),
    (dict(in_channels=4, out_channels=6, kernel_size=2, stride=2), dict(scale_factor=1.5, mode="bilinear")),
    (dict(in_channels=4, out_channels=6, kernel_size=2, stride=2), dict(size=(11, 9), mode="bilinear",
                                                                        align_corners=True)),
    (dict(in_channels=4, out_channels=6, kernel_size=2, stride=2), dict(size=(1, 9), mode="bilinear")),
]


@pytest.mark.parametrize("conv, interpolate", CASES, ids=range(len(CASES)))
def test_pytorch_conv_transpose_and_interpolate_exports(tmp_path, request, conv, interpolate):
    torch.manual_seed(0)
    net = Decoder(torch.nn.ConvTranspose2d(**conv), **interpolate).eval()
    channels = conv["in_channels"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, torch.zeros(1, channels, 5, 6), str(tmp_path / "net.onnx"), dynamo=False,
                          opset_version=17, input_names=["input"], dynamic_axes={"input": {0: "N"}})
    ours = st.onnx.load(tmp_path / "net.onnx")
    (layer,) = [m for _, m, _ in ours.nodes if isinstance(m, st.nn.ConvTranspose2d)]
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, channels, 5, 6)).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    expected = net(tx)
    grad = rng.standard_normal(expected.shape).astype(np.float32)
    expected.backward(torch.tensor(grad))
    assert record(request, "import vs PyTorch (output)", rel_error(ours(x), expected.detach().numpy())) <= 1e-4
    dx_error = rel_error(ours.backward(grad), tx.grad.numpy())
    assert record(request, "import vs PyTorch (input gradient)", dx_error) <= 1e-4
    assert rel_error(layer.weight.grad, net.conv.weight.grad.numpy()) <= 1e-4  # it trains as PyTorch's would
    if net.conv.bias is not None:
        assert rel_error(layer.bias.grad, net.conv.bias.grad.numpy()) <= 1e-4


@pytest.mark.parametrize("attributes", [
    dict(kernel_shape=[3, 2], strides=[2, 3], pads=[1, 0, 2, 1], group=2),
    dict(kernel_shape=[3, 3], strides=[2, 2], output_shape=[10, 12]),
    dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(kernel_shape=[2, 3], strides=[3, 2], auto_pad="SAME_LOWER", output_padding=[1, 1], dilations=[1, 2]),
    dict(kernel_shape=[3, 3], auto_pad="VALID"),
], ids=range(5))
def test_conv_transpose_forms(tmp_path, attributes):
    groups = attributes.get("group", 1)
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], **attributes)
    kh, kw = attributes["kernel_shape"]
    import_and_compare(make_model([node], (4, 5, 6), None, [("w", randn(4, 6 // groups, kh, kw)), ("b", randn(6))]),
                       tmp_path)


def test_resize_forms_import_and_export_again(tmp_path):
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["a"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
             helper.make_node("Resize", ["a", "", "", "sizes"], ["y"], mode="linear",
                              coordinate_transformation_mode="half_pixel")]
    import_and_compare(make_model(nodes, (3, 4, 5), None, [("scales", np.float32([1, 1, 2, 3])),
                                                           ("sizes", np.int64([1, 3, 11, 7]))]), tmp_path, batch=1)


MODE = r"mode '{}' with coordinate_transformation_mode '{}'"


@pytest.mark.parametrize("attributes, message", [
    (dict(mode="cubic"), MODE.format("cubic", "half_pixel")),
    (dict(mode="nearest"), MODE.format("nearest", "half_pixel") + r" \(nearest_mode 'round_prefer_floor'\) does not"),
    (dict(mode="linear", coordinate_transformation_mode="tf_crop_and_resize"), MODE.format("linear",
                                                                                           "tf_crop_and_resize")),
], ids=range(3))
def test_other_resize_forms_are_refused_in_one_line(tmp_path, attributes, message):
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", **attributes)
    onnx.save(make_model([node], (3, 4, 4), None, [("scales", np.float32([1, 1, 2, 2]))]), str(tmp_path / "r.onnx"))
    with pytest.raises(ValueError, match=r"node 'up' \(Resize\): " + message) as error:
        st.onnx.load(tmp_path / "r.onnx")
    assert "\n" not in str(error.value)
