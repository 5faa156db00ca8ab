"""st.models: parameter counts and names against PyTorch builds of the same models, any input size of at least
each model's minimum, clear errors, the registry, initialisation. (Forward and backward parity with PyTorch:
tests/parity/test_model_parity.py.)"""

import numpy as np
import pytest

import strided as st
from strided.models import MODEL_BUILDERS, Network, build_model
from tests.nn.test_blocks import randomise_batch_norms
from tests.parity.test_model_parity import TORCH_MODELS

# Parameter counts (1000 classes for the ImageNet models, 10 otherwise, default in_channels): torchvision's
# published numbers for resnet18/34/50 and densenet121; the others are the PyTorch builds of the same layers.
# resnet_cifar uses option B shortcuts (1x1 conv + BN), 2,752 parameters more than option A's 0.27M / 0.85M.
PARAMETER_COUNTS = {
    "seed_cnn": 50_186,
    "lenet5": 61_706,  # LeNet-5's classic count
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet_cifar20": 272_474,
    "resnet_cifar32": 466_906,
    "resnet_cifar44": 661_338,
    "resnet_cifar56": 855_770,
    "densenet121": 7_978_856,
    "densenet_cifar": 176_122,
}
MIN_SIZES = {"seed_cnn": 4, "lenet5": 12, "resnet18": 1, "resnet_cifar20": 1, "densenet121": 29, "densenet_cifar": 4}


def _count(torch_model) -> int:
    return sum(p.numel() for p in torch_model.parameters())


@pytest.mark.parametrize("name", sorted(PARAMETER_COUNTS))
def test_parameter_count_equals_the_torch_models(name):
    st.manual_seed(0)
    ours = build_model(name)
    assert st.param_count(ours) == PARAMETER_COUNTS[name] == _count(TORCH_MODELS[name]())


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "densenet121", "resnet_cifar20", "densenet_cifar",
                                  "seed_cnn", "lenet5"])
def test_state_dict_keys_equal_the_torch_models(name):
    ours = build_model(name, num_classes=7, in_channels=2)
    theirs = TORCH_MODELS[name](num_classes=7, in_channels=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shapes = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: np.shape(v) for k, v in ours.state_dict().items()} == shapes


def test_torchvision_names():
    keys = list(build_model("resnet18").state_dict())
    assert keys[:2] == ["conv1.weight", "bn1.weight"] and keys[-2:] == ["fc.weight", "fc.bias"]
    assert "layer2.0.downsample.0.weight" in keys and "layer1.0.downsample.0.weight" not in keys
    keys = list(build_model("densenet121").state_dict())
    assert keys[0] == "features.conv0.weight" and "features.denseblock4.denselayer16.conv2.weight" in keys
    assert "features.transition3.conv.weight" in keys and keys[-2:] == ["classifier.weight", "classifier.bias"]


# model -> input sizes (H, W) it must accept, the smallest first
SIZES = {
    "seed_cnn": [(4, 4), (28, 28), (13, 30)],
    "lenet5": [(12, 12), (28, 28), (32, 17)],
    "resnet18": [(1, 1), (33, 20)],
    "resnet50": [(7, 9)],
    "resnet_cifar20": [(1, 1), (32, 32), (9, 40)],
    "densenet121": [(29, 29), (40, 33)],
    "densenet_cifar": [(4, 4), (32, 32), (11, 5)],
}


@pytest.mark.parametrize("name,size", [(n, s) for n, sizes in SIZES.items() for s in sizes], ids=str)
def test_models_work_on_any_input_of_at_least_their_minimum(name, size):
    model = build_model(name, num_classes=5, in_channels=2).eval()
    x = np.random.default_rng(0).standard_normal((2, 2, *size)).astype(np.float32)
    with st.no_grad():
        y = model(x)
    assert y.shape == (2, 5) and y.dtype == np.float32 and np.isfinite(y).all()


def test_a_training_step_runs_on_a_non_square_input():
    model = build_model("resnet_cifar20", num_classes=3)
    x = np.random.default_rng(0).standard_normal((4, 3, 20, 12)).astype(np.float32)
    loss = st.nn.CrossEntropyLoss()
    loss(model(x), np.array([0, 1, 2, 1]))
    grad = model.backward(loss.backward())
    assert grad.shape == x.shape and all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name,minimum", sorted(MIN_SIZES.items()))
def test_too_small_input_names_the_minimum(name, minimum):
    model = build_model(name, in_channels=1)
    assert model.min_input_size == minimum
    if minimum == 1:
        return  # padding keeps every map at least 1x1: nothing is too small
    x = np.zeros((1, 1, minimum - 1, minimum + 5), np.float32)
    message = (f"{name}: input of {minimum - 1}x{minimum + 5} pixels is too small: "
               f"the smallest is {minimum}x{minimum}, got shape \\(1, 1, {minimum - 1}, {minimum + 5}\\)")
    with pytest.raises(ValueError, match=message):
        model(x)


def test_wrong_channel_count_is_a_clear_error():
    with pytest.raises(ValueError, match="resnet18: expected input of shape \\(N, 3, H, W\\), got \\(2, 1, 32, 32\\)"):
        build_model("resnet18")(np.zeros((2, 1, 32, 32), np.float32))


@pytest.mark.parametrize("call,message", [
    (lambda: st.models.resnet(depth=101), "resnet: depth must be one of \\[18, 34, 50\\], got 101"),
    (lambda: st.models.resnet_cifar(depth=21), "resnet_cifar: depth must be 6n \\+ 2"),
    (lambda: st.models.resnet_cifar(depth=2), "resnet_cifar: depth must be 6n \\+ 2"),
    (lambda: st.models.densenet(block_config=()), "densenet: block_config must be a non-empty list"),
    (lambda: st.models.densenet(block_config=(2, 0)), "densenet: block_config must be a non-empty list"),
    (lambda: build_model("resnet_cifar21"), "unknown model 'resnet_cifar21'; known models: .*resnet_cifar20"),
])
def test_builder_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_every_builder_is_registered_and_tags_its_models():
    expected = {"seed_cnn", "lenet5", "resnet", "resnet18", "resnet34", "resnet50", "resnet_cifar", "resnet_cifar20",
                "resnet_cifar32", "resnet_cifar44", "resnet_cifar56", "densenet", "densenet121", "densenet_cifar"}
    assert expected <= set(MODEL_BUILDERS)
    model = build_model("resnet_cifar32", num_classes=4)
    assert model.builder == {"name": "resnet_cifar32", "kwargs": {"num_classes": 4, "in_channels": 3}}
    assert [k for k, _ in model.named_children()][-3:] == ["avgpool", "flatten", "fc"]
    assert len(model.layer1) == 5
    dense = st.models.densenet((2, 3), growth_rate=4, num_init_features=8, num_classes=3, in_channels=1)
    assert dense.builder["kwargs"]["block_config"] == (2, 3)
    assert dense.features.denseblock2.out_channels == 8 + 3 * 4  # (8 + 2 * 4) halved, plus 3 layers of 4


def test_same_seed_same_model():
    st.manual_seed(5)
    a = build_model("densenet_cifar")
    st.manual_seed(5)
    b = build_model("densenet_cifar")
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        np.testing.assert_array_equal(x, y, err_msg=name)


def test_initialisation_follows_torchvision():
    st.manual_seed(0)
    model = build_model("resnet18")
    weight = model.layer4[1].conv2.weight.data  # (512, 512, 3, 3): He-normal with fan_out = 512 * 9
    assert weight.dtype == np.float32 and abs(weight.std() / np.sqrt(2 / (512 * 9)) - 1) < 0.01
    assert (model.layer2[0].bn1.weight.data == 1).all() and (model.layer2[0].bn1.bias.data == 0).all()
    dense = build_model("densenet_cifar")
    conv = dense.features.denseblock1.denselayer1.conv1.weight.data  # (48, 24, 1, 1): fan_in = 24
    assert abs(conv.std() / np.sqrt(2 / 24) - 1) < 0.1
    assert (dense.classifier.bias.data == 0).all()


def test_config_round_trip_keeps_name_and_minimum():
    model = build_model("seed_cnn")
    config = model.get_config()
    assert config["name"] == "seed_cnn" and config["min_input_size"] == 4 and config["in_channels"] == 1
    rebuilt = Network.from_config(config)
    assert rebuilt.label() == "seed_cnn" and rebuilt.min_input_size == 4
    x = np.random.default_rng(0).standard_normal((2, 1, 16, 16)).astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x), model(x))


def test_summary_lists_every_layer_with_its_output_shape():
    rows = st.summary(build_model("resnet_cifar20"), (3, 32, 32), print_fn=lambda line: None)
    by_name = {row["name"]: row for row in rows}
    assert by_name["layer2.0.conv1"]["output_shape"] == (None, 32, 16, 16)
    assert by_name["layer3.2.bn2"]["output_shape"] == (None, 64, 8, 8)
    assert by_name["fc"]["output_shape"] == (None, 10)
    assert sum(row["params"] for row in rows) == PARAMETER_COUNTS["resnet_cifar20"]


@pytest.mark.parametrize("name,kwargs", [
    ("resnet_cifar20", {"num_classes": 4}),
    ("densenet", {"block_config": (2, 3), "growth_rate": 4, "num_init_features": 8, "num_classes": 3,
                  "in_channels": 1}),
])
def test_model_files_rebuild_builder_models(tmp_path, name, kwargs):
    st.manual_seed(0)
    model = randomise_batch_norms(build_model(name, **kwargs)).eval()
    st.save(model, tmp_path / "model.safetensors")
    loaded = st.load(tmp_path / "model.safetensors")
    assert type(loaded) is type(model) and loaded.builder == model.builder
    x = np.random.default_rng(0).standard_normal((2, model.in_channels, 40, 40)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
