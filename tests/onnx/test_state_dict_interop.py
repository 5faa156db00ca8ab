"""Interop without ONNX: a torchvision-style ResNet-18 state dict saved by PyTorch (safetensors, or a NumPy dict)
loads into st.models.resnet18() with load_state_dict, gives PyTorch's outputs, and saves with st.save; st.load
of the PyTorch file says to take that path."""

import numpy as np
import pytest

import strided as st
from tests.helpers import rel_error
from tests.onnx import torch_nets

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")


@pytest.fixture(scope="module")
def torch_resnet18(tmp_path_factory):
    """torchvision's resnet18 layout (widths 64 to 512, 1000 classes, its parameter names), random weights."""
    torch.manual_seed(0)
    model = torch_nets.randomize_batch_norm(torch_nets.ResNet18(widths=(64, 128, 256, 512), num_classes=1000),
                                            torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp("torch_state") / "resnet18.safetensors"
    safetensors_torch.save_file(model.state_dict(), str(path))
    return model, path


def test_a_pytorch_safetensors_state_dict_loads_into_the_builder(torch_resnet18, tmp_path):
    from safetensors.numpy import load_file

    model, path = torch_resnet18
    ours = st.models.resnet18()
    ours.load_state_dict(load_file(str(path)))  # strict: every key matches torchvision's names
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.tensor(x)).numpy()
    with st.no_grad():
        assert rel_error(ours.eval()(x), expected) <= 1e-4
    st.save(ours, tmp_path / "resnet18.safetensors", class_names=[f"c{i}" for i in range(1000)],
            input_shape=[3, 32, 32])
    with st.no_grad():
        np.testing.assert_array_equal(st.load(tmp_path / "resnet18.safetensors")(x), ours(x))


def test_a_numpy_dict_works_the_same(torch_resnet18):
    model, _ = torch_resnet18
    ours = st.models.resnet18()
    result = ours.load_state_dict({key: value.numpy() for key, value in model.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(ours.state_dict()["layer4.1.bn2.running_var"],
                                  model.state_dict()["layer4.1.bn2.running_var"].numpy())


def test_st_load_of_a_pytorch_file_points_to_load_state_dict(torch_resnet18):
    with pytest.raises(st.io.ModelFileError, match=r"not a strided model file .*load_state_dict"):
        st.load(torch_resnet18[1])
