"""st.onnx.load of CNNs exported by PyTorch (torch.onnx.export, dynamo=False): a ResNet-18, a DenseNet-121, a
MobileNet-V2 and a VGG-11-BN, torchvision-shaped with fewer channels and random weights. The imported model
gives PyTorch's outputs and input gradients to 1e-4 relative, trains one step, and saves with st.save."""

import warnings

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error
from tests.onnx import torch_nets
from tests.onnx.conftest import onnx, record  # noqa: F401 - onnx: skips the module without the extra

torch = pytest.importorskip("torch")

TOLERANCE = 1e-4
FOLDED = ("resnet18", "mobilenet_v2")  # also exported with batch norm folded into the convolutions
NETWORKS = {  # name: (class, input shape)
    "resnet18": (torch_nets.ResNet18, (3, 32, 32)),
    "densenet121": (torch_nets.DenseNet121, (3, 32, 32)),
    "mobilenet_v2": (torch_nets.MobileNetV2, (3, 32, 32)),
    "vgg11_bn": (torch_nets.VGG11BN, (3, 64, 64)),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each network in PyTorch and its ONNX files: batch norm as its own node, and folded into the convolutions."""
    folder = tmp_path_factory.mktemp("torch_exports")
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    result = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        for name, (network, shape) in NETWORKS.items():
            model = torch_nets.randomize_batch_norm(network(), generator)
            paths = {fold: torch_nets.export(model, folder / f"{name}_{fold}.onnx", shape, fold_batch_norm=fold)
                     for fold in ((False, True) if name in FOLDED else (False,))}
            result[name] = (model, shape, paths)
    return result


def torch_output_and_input_gradient(model, x, grad):
    x = torch.tensor(x, requires_grad=True)
    out = model(x)
    out.backward(torch.tensor(grad))
    return out.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("name, fold_batch_norm", [(name, False) for name in NETWORKS] + [(n, True) for n in FOLDED])
def test_outputs_and_input_gradients_equal_pytorchs(exported, name, fold_batch_norm, request):
    model, shape, paths = exported[name]
    ours = st.onnx.load(paths[fold_batch_norm])
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    grad = rng.standard_normal((3, 10)).astype(np.float32)
    expected, expected_dx = torch_output_and_input_gradient(model, x, grad)
    out = ours(x)  # eval mode: batch norm with running statistics, as PyTorch's eval model
    assert record(request, "import vs PyTorch (output)", rel_error(out, expected)) <= TOLERANCE
    dx_error = rel_error(ours.backward(grad), expected_dx)
    assert record(request, "import vs PyTorch (input gradient)", dx_error) <= TOLERANCE
    assert ours.metadata["input_shape"] == list(shape)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_one_training_step_then_save_and_load(exported, name, tmp_path):
    _, shape, paths = exported[name]
    ours = st.onnx.load(paths[False]).train()
    rng = np.random.default_rng(2)
    x, labels = rng.standard_normal((4, *shape)).astype(np.float32), rng.integers(0, 10, 4)
    before = {k: v.copy() for k, v in ours.state_dict().items()}
    loss = st.nn.CrossEntropyLoss()
    value = loss(ours(x), labels)
    ours.backward(loss.backward())
    assert np.isfinite(value)
    assert all(p.grad is not None and p.grad.shape == p.shape for p in ours.parameters())
    st.optim.SGD(ours.parameters(), lr=0.1).step()
    for key, param in ours.named_parameters():
        np.testing.assert_allclose(param.data, before[key] - 0.1 * param.grad, rtol=1e-6, atol=1e-7)
    assert loss(ours(x), labels) != value
    st.save(ours, tmp_path / "imported.safetensors")
    again = st.load(tmp_path / "imported.safetensors")
    ours.eval()
    with st.no_grad():
        np.testing.assert_array_equal(again(x), ours(x))


def test_the_batch_stays_dynamic_through_folded_shape_arithmetic(exported):
    """VGG's x.view(x.size(0), -1) is Shape -> Gather -> Unsqueeze -> Concat -> Reshape: folded with batch 1,
    it must still take any batch."""
    model, shape, paths = exported["vgg11_bn"]
    ours = st.onnx.load(paths[False])
    assert any(isinstance(module, st.nn.Flatten) for _, module, _ in ours.nodes)
    x = np.random.default_rng(3).standard_normal((5, *shape)).astype(np.float32)
    with torch.no_grad():
        assert rel_error(ours(x), model(torch.tensor(x)).numpy()) <= TOLERANCE


def test_names_follow_the_pytorch_modules(exported):
    ours = st.onnx.load(exported["resnet18"][2][False])
    keys = set(ours.state_dict())
    assert {"conv1.weight", "bn1.running_mean", "layer1_0_conv1.weight", "layer2_0_downsample_0.weight",
            "fc.weight", "fc.bias"} <= keys
