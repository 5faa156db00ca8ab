"""ModuleList and ModuleDict (PyTorch's state dict names, list and dict behaviour, model files), hooks
(forward, forward pre, full backward, full backward pre; removable handles), Module.apply, and
requires_grad_ (frozen parameters get no gradient and no update), against PyTorch where it applies."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from tests.helpers import assert_close, copy_weights_to_torch
from tests.nn.roundtrip import assert_round_trip


# ----------------------------------------------------------------- ModuleList / ModuleDict
def _pair_of_stacks():
    ours = nn.ModuleList([nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 4), nn.ReLU())])
    ours.append(nn.BatchNorm1d(4))
    ours.extend([nn.Linear(4, 2)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(3, 4), torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())])
    theirs.append(torch.nn.BatchNorm1d(4))
    theirs.extend([torch.nn.Linear(4, 2)])
    return ours, theirs


def test_module_list_state_dict_matches_torch():
    ours, theirs = _pair_of_stacks()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights_to_torch(ours, theirs)  # strict: every key and shape agrees


def test_module_list_behaves_as_a_list():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    layers = nn.ModuleList([a, b])
    layers.insert(0, c)
    assert list(layers) == [c, a, b] and len(layers) == 3 and layers[-1] is b
    assert list(layers[1:]) == [a, b] and isinstance(layers[1:], nn.ModuleList)
    layers[1] = nn.Identity()
    del layers[0]
    assert [type(m).__name__ for m in layers] == ["Identity", "Tanh"]
    assert [name for name, _ in layers.named_children()] == ["0", "1"]
    layers += [nn.ReLU()]
    assert layers.pop(0).__class__ is nn.Identity and len(layers) == 2
    with pytest.raises(IndexError, match="out of range"):
        layers[5]
    with pytest.raises(TypeError, match="expected a Module"):
        layers.append(np.zeros(3))
    with pytest.raises(NotImplementedError):
        layers(np.zeros(3))


def test_module_dict_behaves_as_a_dict_and_names_as_torch():
    ours = nn.ModuleDict({"conv": nn.Conv2d(1, 2, 3), "head": nn.Linear(2, 3)})
    ours["norm"] = nn.BatchNorm2d(2)
    theirs = torch.nn.ModuleDict({"conv": torch.nn.Conv2d(1, 2, 3), "head": torch.nn.Linear(2, 3)})
    theirs["norm"] = torch.nn.BatchNorm2d(2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == list(ours.keys()) == ["conv", "head", "norm"] and "head" in ours and len(ours) == 3
    assert ours.pop("head").out_features == 3 and "head" not in ours
    ours.update([("extra", nn.ReLU())])
    assert [k for k, _ in ours.items()] == ["conv", "norm", "extra"]
    for bad in ("a.b", "", "keys", "training"):
        with pytest.raises(KeyError, match="cannot name a module"):
            ours[bad] = nn.ReLU()
    ours.clear()
    assert len(ours) == 0 and list(ours.state_dict()) == []


def test_containers_round_trip_through_a_model_file(tmp_path):
    class Head(nn.Sequential):  # a user's class cannot be described: the containers must carry the structure
        pass

    model = nn.Sequential(nn.ModuleList([nn.Conv2d(1, 2, 3)]), nn.ModuleDict({"a": nn.Linear(2, 2)}))
    path = tmp_path / "m.safetensors"
    st.save(model, path)
    loaded = st.load(path)
    assert isinstance(loaded[0], nn.ModuleList) and isinstance(loaded[1]["a"], nn.Linear)
    assert list(loaded.state_dict()) == ["0.0.weight", "0.0.bias", "1.a.weight", "1.a.bias"]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], value)
    with pytest.raises(ValueError, match="cannot describe"):
        st.save(nn.ModuleList([Head()]), tmp_path / "user.safetensors")


# ----------------------------------------------------------------- hooks
def _mlp():
    st.manual_seed(0)
    ours = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3)).double()
    copy_weights_to_torch(ours, theirs)
    return ours, theirs


def test_forward_hooks_see_and_may_replace_inputs_and_outputs():
    ours, theirs = _mlp()
    x = np.random.default_rng(0).standard_normal((2, 4))
    seen = {}
    handles = [m.register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, (args[0], out)))
               for i, m in enumerate(ours)]
    ours(x)
    assert sorted(seen) == [0, 1, 2]
    np.testing.assert_array_equal(seen[0][0], x)
    np.testing.assert_array_equal(seen[1][0], seen[0][1])
    for handle in handles:
        handle.remove()
    seen.clear()
    ours(x)
    assert seen == {}

    double = ours[1].register_forward_hook(lambda mod, args, out: 2 * out)
    halve_input = ours[2].register_forward_pre_hook(lambda mod, args: (args[0] / 2,))
    theirs[1].register_forward_hook(lambda mod, args, out: 2 * out)
    theirs[2].register_forward_pre_hook(lambda mod, args: (args[0] / 2,))
    assert_close(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), 1e-12, "output with hooks")
    with double, halve_input:
        pass  # leaving the block removes both
    assert not ours[1]._forward_hooks and not ours[2]._forward_pre_hooks


def test_full_backward_hooks_match_torchs():
    ours, theirs = _mlp()
    rng = np.random.default_rng(1)
    x, g = rng.standard_normal((2, 4)), rng.standard_normal((2, 3))
    ours_seen, theirs_seen = [], []
    for seen, model in ((ours_seen, ours), (theirs_seen, theirs)):
        model[2].register_full_backward_hook(lambda mod, gin, gout, seen=seen: seen.append((gin[0], gout[0])))
        model[1].register_full_backward_hook(lambda mod, gin, gout: (gin[0] * 3,))   # replaces grad_input
        model[0].register_full_backward_pre_hook(lambda mod, gout: (gout[0] - 1,))  # replaces grad_output
    ours(x)
    grad_x = ours.backward(g)
    x_t = torch.tensor(x, requires_grad=True)
    theirs(x_t).backward(torch.from_numpy(g))
    assert_close(ours_seen[0][0], theirs_seen[0][0].numpy(), 1e-12, "grad_input seen by the hook")
    assert_close(ours_seen[0][1], theirs_seen[0][1].numpy(), 1e-12, "grad_output seen by the hook")
    assert_close(grad_x, x_t.grad.numpy(), 1e-12, "input gradient after the replacing hooks")
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.grad, p_t.grad.numpy(), 1e-12, f"gradient of {name}")


def test_backward_hooks_cost_nothing_once_removed():
    layer = nn.Linear(2, 2)
    handle = layer.register_full_backward_hook(lambda *a: None)
    assert "backward" in layer.__dict__  # routed through the hooks on this instance only
    assert "backward" not in nn.Linear(2, 2).__dict__
    handle.remove()
    handle.remove()  # twice is harmless, as in PyTorch
    assert "backward" not in layer.__dict__
    with pytest.raises(TypeError, match="must be callable"):
        layer.register_forward_hook(3)


def test_backward_hook_on_a_module_with_several_inputs():
    add = nn.Add()
    seen = []
    add.register_full_backward_hook(lambda mod, gin, gout: seen.append(len(gin)))
    a, b = np.ones((2, 3)), np.ones((2, 3))
    add(a, b)
    grads = add.backward(np.ones((2, 3)))
    assert seen == [2] and isinstance(grads, tuple) and len(grads) == 2


# ----------------------------------------------------------------- apply and requires_grad_
def test_apply_visits_children_first_as_torch():
    ours = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1)))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(2, 1)))
    ours_order, theirs_order = [], []
    assert ours.apply(lambda m: ours_order.append(type(m).__name__)) is ours
    theirs.apply(lambda m: theirs_order.append(type(m).__name__))
    assert ours_order == theirs_order

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
    ours.apply(zero_linear)
    assert all(not p.data.any() for name, p in ours.named_parameters() if name.endswith("weight"))


def test_frozen_parameters_get_no_gradient_and_no_update_as_in_torch():
    """A frozen first layer (a pretrained backbone), five SGD steps with momentum and weight decay, both sides."""
    st.manual_seed(1)
    ours = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(12, 2)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(12, 2)).double()
    copy_weights_to_torch(ours, theirs)
    assert ours[0].requires_grad_(False) is ours[0]
    theirs[0].requires_grad_(False)
    frozen = ours[0].weight.data.copy()
    opt = st.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    rng = np.random.default_rng(2)
    for _ in range(5):
        x, g = rng.standard_normal((4, 2, 4, 4)), rng.standard_normal((4, 2))
        opt.zero_grad()
        opt_t.zero_grad()
        ours(x)
        grad_x = ours.backward(g)
        x_t = torch.tensor(x, requires_grad=True)
        theirs(x_t).backward(torch.from_numpy(g))
        assert ours[0].weight.grad is None and ours[0].bias.grad is None
        assert_close(grad_x, x_t.grad.numpy(), 1e-12, "input gradient through the frozen layer")
        opt.step()
        opt_t.step()
    np.testing.assert_array_equal(ours[0].weight.data, frozen)
    for (name, p), p_t in zip(ours.named_parameters(), theirs.parameters(), strict=True):
        assert_close(p.data, p_t.detach().numpy(), 1e-12, f"{name} after 5 steps")


def test_a_parameter_frozen_after_backward_is_not_updated():
    p = nn.Parameter(np.ones(3))
    p.grad = np.ones(3)
    opt = st.optim.Adam([p], lr=0.1)
    p.requires_grad_(False)
    opt.step()
    np.testing.assert_array_equal(p.data, np.ones(3))
    p.requires_grad = True
    opt.step()
    assert (p.data < 1).all()
    assert "requires_grad=False" in repr(nn.Parameter(np.ones(2), requires_grad=False))


def test_frozen_model_still_round_trips(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2)).requires_grad_(False)
    assert_round_trip(model, np.ones((1, 3), np.float32), tmp_path)
