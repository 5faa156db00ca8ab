"""MobileNetV2 and VGG-11: parameter counts, state_dict names and shapes, and whole-model forward and backward
against torchvision's structures written out in PyTorch (tests/models/torchvision_twins.py); model files."""

import numpy as np
import pytest
import torch

import strided as st
from strided.io.spec import module_to_spec
from tests.helpers import assert_close, check_torch_parity, copy_weights_to_torch
from tests.models.torchvision_twins import TorchMobileNetV2, TorchVGG
from tests.nn.test_blocks import randomise_batch_norms

# torchvision's published counts (torchvision.models: MobileNet_V2_Weights, VGG11_Weights, VGG11_BN_Weights)
COUNTS = {"mobilenet_v2": 3_504_872, "vgg11": 132_863_336, "vgg11_bn": 132_868_840}


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture
def no_init(monkeypatch):
    """Build VGG's 133M parameters without drawing random numbers for them (minutes on a loaded machine): the
    tests that use this look only at structure; parity tests draw their own weights."""
    for name in ("normal_", "kaiming_normal_", "kaiming_uniform_", "uniform_"):
        monkeypatch.setattr(st.nn.init, name, lambda tensor, *args, **kwargs: tensor)


def _torch_twin(name, **kwargs):
    if name == "mobilenet_v2":
        return TorchMobileNetV2(**kwargs)
    return TorchVGG(batch_norm=name.endswith("_bn"), **kwargs)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_parameter_counts_equal_torchvisions(name, no_init):
    with torch.device("meta"):  # structure only, no memory
        theirs = _torch_twin(name)
    assert st.param_count(st.models.build_model(name)) == COUNTS[name] == _count(theirs)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_state_dict_names_and_shapes_equal_torchvisions(name, no_init):
    ours = st.models.build_model(name, num_classes=7, in_channels=2)
    with torch.device("meta"):
        theirs = _torch_twin(name, num_classes=7, in_channels=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [np.shape(v) for v in ours.state_dict().values()] == [tuple(v.shape) for v in theirs.state_dict().values()]


@pytest.mark.parametrize("width_mult", [0.35, 0.5, 1.3])
def test_mobilenet_width_multiplier_counts(width_mult):
    ours = st.models.mobilenet_v2(num_classes=10, width_mult=width_mult)
    with torch.device("meta"):
        assert st.param_count(ours) == _count(TorchMobileNetV2(num_classes=10, width_mult=width_mult))


def test_torchvisions_initialisation():
    st.manual_seed(0)
    model = st.models.mobilenet_v2(num_classes=10, width_mult=0.5)
    first = model.features[0][0].weight.data  # (16, 3, 3, 3): kaiming normal, fan out = 16 * 9
    assert abs(first.std() / np.sqrt(2 / (16 * 9)) - 1) < 0.2
    fc = model.classifier[1]
    assert abs(fc.weight.data.std() / 0.01 - 1) < 0.1 and not fc.bias.data.any()
    assert all(not m.bias.data.any() for m in model.modules() if isinstance(m, st.nn.BatchNorm2d))


def _mobilenet_pair(dtype, training):
    st.manual_seed(0)
    kwargs = {"num_classes": 6, "in_channels": 3, "width_mult": 0.5, "dropout": 0.0}
    ours = randomise_batch_norms(st.models.mobilenet_v2(**kwargs)).to(dtype).train(training)
    # batch 4: with 2 images the last maps are 1x1 and training-mode batch norm over 2 values makes the exact
    # gradient a difference of nearly equal terms (3e-8 relative apart in float64, both libraries' rounding)
    x = np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(dtype)
    return ours, TorchMobileNetV2(**kwargs).train(training), x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mobilenet_v2_matches_torchvisions_in_eval_mode(dtype):
    ours, theirs, x = _mobilenet_pair(dtype, training=False)
    errors = check_torch_parity(ours, theirs, x)
    assert len(errors) == 2 + len(list(ours.parameters()))


def test_mobilenet_v2_matches_torchvisions_in_training_mode():
    """float64, batch statistics. Each block's projection ends in a batch norm whose output reaches the loss only
    through 1x1 convolutions (linear, no bias) into training-mode batch norms, which remove the mean over (N, H, W):
    so the gradient of that batch norm's bias is exactly zero, and both libraries give rounding noise (1e-17).
    Those are checked to be zero against the gradients' scale; every other gradient to 1e-9 relative."""
    ours, theirs, x = _mobilenet_pair(np.float64, training=True)
    copy_weights_to_torch(ours, theirs.double())
    out = ours(x)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    grad = np.random.default_rng(0).standard_normal(out.shape)
    ours.zero_grad()
    grad_in = ours.backward(grad)
    out_t.backward(torch.from_numpy(grad))
    assert_close(out, out_t.detach().numpy(), 1e-9, "output")
    assert_close(grad_in, x_t.grad.numpy(), 1e-9, "input gradient")
    theirs_grads = {name: p.grad.numpy() for name, p in theirs.named_parameters()}
    scale = max(np.abs(g).max() for g in theirs_grads.values())
    zero = {f"features.{i}.conv.{len(block.conv) - 1}.bias" for i, block in enumerate(ours.features)
            if isinstance(block, st.nn.InvertedResidual)}
    assert len(zero) == 17
    for name, param in ours.named_parameters():
        if name in zero:
            assert max(np.abs(param.grad).max(), np.abs(theirs_grads[name]).max()) < 1e-12 * scale, name
        else:
            assert_close(param.grad, theirs_grads[name], 1e-9, f"gradient of {name}")


@pytest.mark.parametrize("name,training", [("vgg11", True), ("vgg11_bn", False)])
def test_vgg11_matches_torchvisions(name, training, no_init):
    """The full model (the 25088 x 4096 classifier included) in float32 on a 32x32 input. vgg11_bn in eval mode:
    in training mode its last batch norms see 2x2 maps of 2 images, where the exact gradient is a difference of
    nearly equal terms and float32 rounding alone (either library's) exceeds 1e-5 (see
    tests/parity/test_model_parity.py); batch norm's training mode is proven in tests/nn/test_norm.py."""
    ours = st.models.build_model(name, num_classes=5, dropout=0.0)
    noise = np.random.default_rng(0).standard_normal(1_000_003).astype(np.float32)  # a prime length: no alignment
    for _, param in ours.named_parameters():  # torchvision's scales; tiling noise is 20x faster than drawing 133M
        fan_in = np.prod(param.shape[1:]) if param.data.ndim > 1 else 1
        offset = param.size % len(noise)
        param.data[...] = np.resize(np.roll(noise, offset), param.shape) * np.float32(np.sqrt(2 / fan_in))
    randomise_batch_norms(ours)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.device("meta"):
        theirs = TorchVGG(batch_norm=name.endswith("_bn"), num_classes=5, dropout=0.0).train(training)
    # strided's arrays themselves, shared rather than copied (PyTorch's backward does not write to weights)
    theirs.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in ours.state_dict().items()}, assign=True)
    check_torch_parity(ours, theirs, x, copy_weights=False)


def test_vgg_needs_32_pixels(no_init):
    model = st.models.vgg11(num_classes=2)
    assert model.min_input_size == 32
    with pytest.raises(ValueError, match=r"vgg11: input of 31x40 pixels is too small: the smallest is 32x32"):
        model(np.zeros((1, 3, 31, 40), np.float32))


def test_model_files_rebuild_them(tmp_path, no_init):
    st.manual_seed(0)
    model = st.models.mobilenet_v2(num_classes=4, width_mult=0.25).eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 24, 24)).astype(np.float32)
    path = st.save(model, tmp_path / "m.safetensors")
    loaded = st.load(path)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert list(loaded.state_dict()) == list(model.state_dict())
    assert module_to_spec(st.models.vgg11_bn(num_classes=3)) == {
        "builder": "vgg11_bn", "kwargs": {"num_classes": 3, "in_channels": 3, "dropout": 0.5}}
    assert {"mobilenet_v2", "vgg", "vgg11", "vgg11_bn"} <= set(st.models.MODEL_BUILDERS)
