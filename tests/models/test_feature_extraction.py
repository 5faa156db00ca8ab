"""feature_extractor (torchvision's create_feature_extractor) and resnet_fpn_backbone: outputs and gradients
against PyTorch twins (forward hooks give the reference outputs; the loss sum_k <out_k, g_k> over any subset
of outputs gives the reference gradients), pruning, names, errors."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close, copy_weights_to_torch
from tests.models.torchvision_twins import TorchFeaturePyramidNetwork, TorchLastLevelMaxPool
from tests.nn.test_blocks import randomise_batch_norms
from tests.parity.test_model_parity import TORCH_MODELS


def _torch_outputs(model, nodes, x_t):
    """Run ``model`` with forward hooks on the modules named ``nodes``: {node: output}."""
    outputs, handles = {}, []
    modules = dict(model.named_modules())
    for node in nodes:
        handles.append(modules[node].register_forward_hook(lambda m, i, o, node=node: outputs.__setitem__(node, o)))
    model(x_t)
    for handle in handles:
        handle.remove()
    return outputs


def _compare(ours_model, theirs_model, return_nodes, grad_names, x, dtype):
    tol = TOLERANCE[np.dtype(dtype)]
    body = st.models.feature_extractor(ours_model, return_nodes)
    x_t = torch.tensor(x, requires_grad=True)
    reference = _torch_outputs(theirs_model, list(return_nodes), x_t)
    outs = body(x)
    assert list(outs) == list(return_nodes.values())
    for node, name in return_nodes.items():
        assert_close(outs[name], reference[node].detach().numpy(), tol, f"output {name}")
    rng = np.random.default_rng(5)
    grads = {name: rng.standard_normal(outs[name].shape).astype(dtype) for name in grad_names}
    body.zero_grad()
    dx = body.backward(grads)
    by_name = {name: node for node, name in return_nodes.items()}
    sum(torch.sum(reference[by_name[n]] * torch.from_numpy(g)) for n, g in grads.items()).backward()
    assert_close(dx, x_t.grad.numpy(), tol, "input gradient")
    theirs = dict(theirs_model.named_parameters())
    for name, param in body.named_parameters():
        if theirs[name].grad is None:
            assert param.grad is None, f"{name}: a gradient where no output reaches"
        else:
            assert_close(param.grad, theirs[name].grad.numpy(), tol, f"gradient of {name}")
    return body


@pytest.mark.parametrize("grad_names", [["a", "b", "c"], ["b"], ["a", "c"]], ids=str)
def test_resnet_stages_and_blocks_match_torch(grad_names):
    st.manual_seed(0)
    ours = randomise_batch_norms(st.models.resnet_cifar20(num_classes=4)).double()
    theirs = TORCH_MODELS["resnet_cifar20"](num_classes=4).double()
    copy_weights_to_torch(ours, theirs)
    x = np.random.default_rng(1).standard_normal((4, 3, 12, 12))
    body = _compare(ours, theirs, {"layer1": "a", "layer2.1": "b", "layer3": "c"}, grad_names, x, np.float64)
    assert "fc.weight" not in body.state_dict() and "layer3.2.conv2.weight" in body.state_dict()
    assert body.layer1 is ours.layer1  # the model's own modules: training one trains the other


def test_sequential_models_and_list_of_nodes():
    st.manual_seed(0)
    nn = st.nn
    ours = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Sequential(nn.Conv2d(4, 3, 3, stride=2), nn.Tanh()),
                         nn.Flatten(), nn.Linear(12, 5))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3), torch.nn.ReLU(), torch.nn.Sequential(
        torch.nn.Conv2d(4, 3, 3, stride=2), torch.nn.Tanh()), torch.nn.Flatten(), torch.nn.Linear(12, 5))
    copy_weights_to_torch(ours, theirs)
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8)).astype(np.float32)
    _compare(ours, theirs, {"1": "1", "2.0": "2.0", "4": "4"}, ["2.0", "4"], x, np.float32)
    body = st.models.feature_extractor(ours, ["0", "2"])
    assert list(body(x)) == ["0", "2"] and "4.weight" not in body.state_dict()


def test_graph_with_a_fan_out():
    """x feeds two nodes and relu1 feeds two: their gradients add up, with outputs taken inside the graph."""
    st.manual_seed(0)
    nn = st.nn
    g = nn.Graph(inputs=("x",))
    g.add("conv1", nn.Conv2d(3, 3, 3, padding=1), "x").add("relu1", nn.ReLU())
    g.add("conv2", nn.Conv2d(3, 3, 3, padding=1), "relu1").add("sum", nn.Add(), ["conv2", "x", "relu1"])

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.relu1 = torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.ReLU()
            self.conv2, self.sum = torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Identity()

        def forward(self, x):
            r = self.relu1(self.conv1(x))
            return self.sum(self.conv2(r) + x + r)

    theirs = Twin().double()
    copy_weights_to_torch(g, theirs)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5))
    _compare(g.double(), theirs, {"relu1": "r", "sum": "s"}, ["r", "s"], x, np.float64)


def test_node_names_and_errors():
    model = st.models.resnet_cifar20()
    names = st.models.get_graph_node_names(model)[0]
    assert names[:4] == ["conv1", "bn1", "relu", "layer1.0"] and "layer1" in names and names[-1] == "fc"
    with pytest.raises(ValueError, match=r"\['layer9'\] not among the nodes of resnet_cifar20 .*layer1\.0"):
        st.models.feature_extractor(model, ["layer9"])
    with pytest.raises(ValueError, match="layer1.0.conv1"):  # inside a hand-written block: not a node
        st.models.feature_extractor(model, ["layer1.0.conv1"])
    with pytest.raises(ValueError, match="expected a Sequential or a Graph model"):
        st.models.feature_extractor(st.nn.Conv2d(1, 1, 1), ["weight"])
    body = st.models.feature_extractor(model, {"layer1": "a"})
    body(np.zeros((1, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"backward got gradients for \['b'\], which are not outputs \(a\)"):
        body.backward({"b": np.zeros(1)})


def test_mobilenet_features():
    body = st.models.feature_extractor(st.models.mobilenet_v2(width_mult=0.35), {"features.3": "c2",
                                                                                  "features.18": "c5"}).eval()
    outs = body(np.zeros((1, 3, 32, 32), np.float32))
    assert outs["c2"].shape == (1, 8, 8, 8) and outs["c5"].shape == (1, 1280, 1, 1)


# ---------------------------------------------------------------- resnet_fpn_backbone
class TorchBackboneWithFPN(torch.nn.Module):
    """torchvision's BackboneWithFPN: IntermediateLayerGetter (the top-level children up to the last returned
    layer, in order) and the FPN."""

    def __init__(self, resnet, return_layers, in_channels_list, out_channels):
        super().__init__()
        last = max(int(name[5:]) for name in return_layers)
        children = [(n, m) for n, m in resnet.named_children() if m is not None and (
            not n.startswith("layer") or int(n[5:]) <= last) and n not in ("avgpool", "fc")]
        self.body = torch.nn.ModuleDict(OrderedDict(children))
        self.return_layers = return_layers
        self.fpn = TorchFeaturePyramidNetwork(in_channels_list, out_channels, TorchLastLevelMaxPool())

    def forward(self, x):
        out = OrderedDict()
        for name, module in self.body.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return self.fpn(out)


@pytest.mark.parametrize("name,shape,dtype,training", [("resnet_cifar20", (4, 3, 16, 16), np.float64, True),
                                                        ("resnet18", (2, 3, 64, 64), np.float32, False)])
def test_resnet_fpn_backbone_matches_torchvisions(name, shape, dtype, training):
    st.manual_seed(0)
    ours = randomise_batch_norms(st.models.resnet_fpn_backbone(name, out_channels=8)).to(dtype).train(training)
    stages = 3 if name.startswith("resnet_cifar") else 4
    widths = [16, 32, 64] if stages == 3 else [64, 128, 256, 512]
    theirs = TorchBackboneWithFPN(TORCH_MODELS[name](), {f"layer{k + 1}": str(k) for k in range(stages)}, widths, 8)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32).train(training)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights_to_torch(ours, theirs)
    tol = TOLERANCE[np.dtype(dtype)]
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    x_t = torch.tensor(x, requires_grad=True)
    outs, outs_t = ours(x), theirs(x_t)
    assert list(outs) == list(outs_t) == [str(k) for k in range(stages)] + ["pool"]
    grads = {}
    for key in outs:
        assert_close(outs[key], outs_t[key].detach().numpy(), tol, f"level {key}")
        grads[key] = np.random.default_rng(len(grads)).standard_normal(outs[key].shape).astype(dtype)
    ours.zero_grad()
    dx = ours.backward(grads)
    sum(torch.sum(outs_t[k] * torch.from_numpy(g)) for k, g in grads.items()).backward()
    assert_close(dx, x_t.grad.numpy(), tol, "input gradient")
    theirs_params = dict(theirs.named_parameters())
    for key, param in ours.named_parameters():
        assert_close(param.grad, theirs_params[key].grad.numpy(), tol, f"gradient of {key}")


def test_trainable_layers_freeze_the_rest():
    st.manual_seed(0)
    backbone = st.models.resnet_fpn_backbone("resnet_cifar20", trainable_layers=2, out_channels=4)
    frozen = {k for k, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen == {k for k, _ in backbone.named_parameters() if k.startswith(("body.conv1", "body.bn1",
                                                                               "body.layer1"))}
    outs = backbone(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32))
    backbone.backward({"0": np.ones_like(outs["0"])})
    assert all(p.grad is None for k, p in backbone.named_parameters() if k in frozen)
    assert backbone.body.layer2[0].conv1.weight.grad is not None
    with pytest.raises(ValueError, match=r"returned_layers must lie in \[1, 3\] for resnet_cifar20"):
        st.models.resnet_fpn_backbone("resnet_cifar20", returned_layers=[4])


def test_resnet_fpn_backbone_model_file_round_trip(tmp_path):
    st.manual_seed(0)
    backbone = st.models.resnet_fpn_backbone("resnet_cifar20", out_channels=4, returned_layers=[2, 3]).eval()
    loaded = st.load(st.save(backbone, tmp_path / "fpn.safetensors"))
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32)
    outs = backbone(x)
    assert list(outs) == ["0", "1", "pool"] and outs["0"].shape == (1, 4, 8, 8)
    for name, value in loaded(x).items():
        np.testing.assert_array_equal(value, outs[name])
