"""SGD, Adam and AdamW step for step against torch.optim, state dicts, param groups and errors."""

import numpy as np
import pytest
import torch

import strided as st
from strided.io import load_checkpoint, save_checkpoint
from strided.nn import Parameter
from tests.helpers import TOLERANCE, TORCH_DTYPE, assert_close, copy_weights_to_torch

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 20

CONFIGS = [
    ("SGD", {}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    ("SGD", {"lr": 0.02, "momentum": 0.9, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.02, "momentum": 0.7, "nesterov": True, "weight_decay": 0.05, "maximize": True}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.01, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.99)}),  # 1 - beta1 >= 0.5: lerp's other rounding branch
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.0}),
    ("AdamW", {"lr": 0.01, "betas": (0.8, 0.95), "amsgrad": True}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.3, "maximize": True}),
]


def _config_id(config):
    name, kwargs = config
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    ours = [Parameter(v.copy()) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    return ours, theirs


def _gradients(dtype, step, seed=1):
    """The same random gradients for both sides; the last parameter gets none on every 4th step."""
    rng = np.random.default_rng([seed, step])
    grads = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    if step % 4 == 3:
        grads[-1] = None
    return grads


def _set_grads(ours, theirs, grads):
    for p, t, g in zip(ours, theirs, grads, strict=True):
        p.grad = None if g is None else g.copy()
        t.grad = None if g is None else torch.from_numpy(g.copy())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=_config_id)
def test_steps_match_torch(config, dtype):
    name, kwargs = config
    ours, theirs = _make_params(dtype)
    opt = getattr(st.optim, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    tol = TOLERANCE[np.dtype(dtype)]
    for step in range(STEPS):
        _set_grads(ours, theirs, _gradients(dtype, step))
        opt.step()
        opt_t.step()
        for i, (p, t) in enumerate(zip(ours, theirs, strict=True)):
            assert p.data.dtype == dtype, f"parameter {i} became {p.data.dtype}"
            assert_close(p.data, t.detach().numpy(), tol, f"{name} step {step} parameter {i}")
    for values in opt.state.values():
        for key, value in values.items():
            if isinstance(value, np.ndarray):
                assert value.dtype == dtype, f"state {key} is {value.dtype}"


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_lr_changed_between_steps_is_used(name):
    ours, theirs = _make_params(np.float64)
    kwargs = {"lr": 0.1, "momentum": 0.9} if name == "SGD" else {"lr": 0.1}
    opt, opt_t = getattr(st.optim, name)(ours, **kwargs), getattr(torch.optim, name)(theirs, **kwargs)
    for step in range(6):
        _set_grads(ours, theirs, _gradients(np.float64, step))
        opt.step()
        opt_t.step()
        for group, group_t in zip(opt.param_groups, opt_t.param_groups, strict=True):
            group["lr"] = group_t["lr"] = group["lr"] * 0.5
    for p, t in zip(ours, theirs, strict=True):
        assert_close(p.data, t.detach().numpy(), 1e-12, f"{name} with a changing lr")


def _param_groups(params):
    return [{"params": [params[0]], "lr": 0.1}, {"params": params[1:], "weight_decay": 0.2}]


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.01, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                          ("AdamW", {"lr": 0.02, "amsgrad": True})])
def test_param_groups_with_their_own_options(name, kwargs):
    ours, theirs = _make_params(np.float64)
    opt = getattr(st.optim, name)(_param_groups(ours), **kwargs)
    opt_t = getattr(torch.optim, name)(_param_groups(theirs), **kwargs)
    assert [g["lr"] for g in opt.param_groups] == [0.1, kwargs["lr"]]
    assert opt.param_groups[1]["weight_decay"] == 0.2
    for step in range(10):
        _set_grads(ours, theirs, _gradients(np.float64, step))
        opt.step()
        opt_t.step()
    for i, (p, t) in enumerate(zip(ours, theirs, strict=True)):
        assert_close(p.data, t.detach().numpy(), 1e-9, f"{name} param groups, parameter {i}")


def test_add_param_group_and_named_parameters():
    ours, theirs = _make_params(np.float64)
    opt = st.optim.SGD(ours[:1], lr=0.1, momentum=0.5)
    opt.add_param_group({"params": ours[1:], "lr": 0.01})
    opt_t = torch.optim.SGD(theirs[:1], lr=0.1, momentum=0.5)
    opt_t.add_param_group({"params": theirs[1:], "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.5  # missing options come from the defaults
    for step in range(5):
        _set_grads(ours, theirs, _gradients(np.float64, step))
        opt.step()
        opt_t.step()
    for p, t in zip(ours, theirs, strict=True):
        assert_close(p.data, t.detach().numpy(), 1e-9, "SGD after add_param_group")

    named = st.optim.Adam([("a", ours[0]), ("b", ours[1])])
    assert named.param_groups[0]["param_names"] == ["a", "b"]
    assert named.state_dict()["param_groups"][0]["param_names"] == ["a", "b"]


def test_zero_grad_sets_none_or_zeros():
    ours, _ = _make_params(np.float64)
    opt = st.optim.SGD(ours, lr=0.1)
    for p in ours:
        p.grad = np.ones_like(p.data)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in ours)
    opt.zero_grad()
    assert all(p.grad is None for p in ours)
    before = [p.data.copy() for p in ours]
    opt.step()  # nothing has a gradient: nothing moves
    assert all(np.array_equal(b, p.data) for b, p in zip(before, ours, strict=True))


def _run(opt, params, steps, dtype=np.float64):
    for step in steps:
        for p, g in zip(params, _gradients(dtype, step), strict=True):
            p.grad = None if g is None else g.copy()
        opt.step()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
                                          ("Adam", {"lr": 0.01, "amsgrad": True}), ("AdamW", {"lr": 0.01})])
def test_state_dict_round_trip_resumes_identically(name, kwargs, dtype, tmp_path):
    cls = getattr(st.optim, name)
    uninterrupted, _ = _make_params(dtype)
    opt = cls(_param_groups(uninterrupted), **kwargs)
    _run(opt, uninterrupted, range(5), dtype)
    saved = opt.state_dict()
    save_checkpoint(tmp_path / "opt.ckpt", saved)  # must hold only storable values
    resumed = [Parameter(p.data.copy()) for p in uninterrupted]
    _run(opt, uninterrupted, range(5, 15), dtype)  # training on must not alter the saved dict

    fresh = cls(_param_groups(resumed), lr=0.5)
    fresh.load_state_dict(load_checkpoint(tmp_path / "opt.ckpt"))
    assert [g["lr"] for g in fresh.param_groups] == [g["lr"] for g in opt.param_groups]
    _run(fresh, resumed, range(5, 15), dtype)
    for a, b in zip(uninterrupted, resumed, strict=True):
        assert a.data.dtype == b.data.dtype == dtype
        assert np.array_equal(a.data, b.data), "resumed training differs from uninterrupted training"


@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.05, "momentum": 0.9}),
                                          ("Adam", {"lr": 0.01, "amsgrad": True})])
def test_state_dict_has_pytorchs_layout_and_loads_pytorchs(name, kwargs):
    ours, theirs = _make_params(np.float64)
    opt = getattr(st.optim, name)(_param_groups(ours), **kwargs)
    opt_t = getattr(torch.optim, name)(_param_groups(theirs), **kwargs)
    for step in range(4):
        _set_grads(ours, theirs, _gradients(np.float64, step))
        opt.step()
        opt_t.step()
    sd, sd_t = opt.state_dict(), opt_t.state_dict()
    assert sorted(sd["state"]) == sorted(sd_t["state"])
    for index, values in sd["state"].items():
        assert sorted(values) == sorted(sd_t["state"][index])
        for key, value in values.items():
            assert_close(value, np.asarray(sd_t["state"][index][key]), 1e-9, f"state {index}.{key}")
    for group, group_t in zip(sd["param_groups"], sd_t["param_groups"], strict=True):
        assert group["params"] == group_t["params"]
        assert set(group) <= set(group_t) | {"decoupled_weight_decay"}
        assert all(group[k] == group_t[k] for k in group)

    # PyTorch's state dict, tensors turned into arrays, loads into ours and training continues alike.
    torch_state = {i: {k: (v.item() if v.ndim == 0 else v.numpy().copy()) for k, v in values.items()}
                   for i, values in sd_t["state"].items()}
    resumed = [Parameter(t.detach().numpy().copy()) for t in theirs]
    fresh = getattr(st.optim, name)(_param_groups(resumed), **kwargs)
    fresh.load_state_dict({"state": torch_state, "param_groups": sd_t["param_groups"]})
    for step in range(4, 10):
        _set_grads(resumed, theirs, _gradients(np.float64, step))
        fresh.step()
        opt_t.step()
    for p, t in zip(resumed, theirs, strict=True):
        assert_close(p.data, t.detach().numpy(), 1e-9, f"{name} resumed from PyTorch's state dict")


def test_load_state_dict_casts_to_the_parameter_dtype():
    params64, _ = _make_params(np.float64)
    opt = st.optim.Adam(params64, lr=0.01)
    _run(opt, params64, range(3))
    params32 = [Parameter(p.data.astype(np.float32)) for p in params64]
    opt32 = st.optim.Adam(params32, lr=0.01)
    opt32.load_state_dict(opt.state_dict())
    assert all(v["exp_avg"].dtype == np.float32 for v in opt32.state.values())
    _run(opt32, params32, range(3, 6), np.float32)
    assert all(p.data.dtype == np.float32 for p in params32)


def test_load_state_dict_errors():
    ours, _ = _make_params(np.float64)
    opt = st.optim.SGD(_param_groups(ours), lr=0.1, momentum=0.9)
    _run(opt, ours, range(2))
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter groups"):
        st.optim.SGD(ours, lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters, the state.s has 1"):
        st.optim.SGD([{"params": ours[:2]}, {"params": ours[2:]}], lr=0.1).load_state_dict(sd)
    others = [Parameter(np.zeros((7,))), Parameter(np.zeros((5,))), Parameter(np.zeros((2, 3, 2)))]
    with pytest.raises(ValueError, match=r"has shape \(3, 4\), its parameter has shape \(7,\)"):
        st.optim.SGD(_param_groups(others), lr=0.1).load_state_dict(sd)


@pytest.mark.parametrize("make, message", [
    (lambda p: st.optim.SGD(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: st.optim.SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value"),
    (lambda p: st.optim.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda p: st.optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda p: st.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: st.optim.Adam(p, lr=-1e-3), "Invalid learning rate"),
    (lambda p: st.optim.Adam(p, eps=-1e-8), "Invalid epsilon value"),
    (lambda p: st.optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda p: st.optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: st.optim.Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: st.optim.AdamW(p, weight_decay=-0.01), "Invalid weight_decay value"),
    (lambda p: st.optim.SGD([], lr=0.1), "empty parameter list"),
    (lambda p: st.optim.SGD([p[0], p[0]], lr=0.1), "more than once"),
    (lambda p: st.optim.SGD([{"params": p[:2]}, {"params": p[1:]}], lr=0.1), "more than one parameter group"),
])
def test_invalid_arguments_raise_value_errors(make, message):
    ours, _ = _make_params(np.float64)
    with pytest.raises(ValueError, match=message):
        make(ours)


def test_non_parameters_raise_type_errors():
    with pytest.raises(TypeError, match="can only optimize Parameters, got a ndarray"):
        st.optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Parameters"):
        st.optim.SGD(Parameter(np.zeros(3)), lr=0.1)


def test_defaults_are_pytorchs():
    ours, theirs = _make_params(np.float64)
    for name in ("SGD", "Adam", "AdamW"):
        group = getattr(st.optim, name)(ours).param_groups[0]
        group_t = getattr(torch.optim, name)(theirs).param_groups[0]
        assert {k: group[k] for k in group if k != "params"} == {
            k: group_t[k] for k in group if k != "params"
        }, name


def test_float32_arithmetic_stays_float32():
    """A float64 learning rate from NumPy must not turn the update into float64 arithmetic."""
    ours, theirs = _make_params(np.float32)
    opt = st.optim.Adam(ours, lr=np.float64(0.01))
    opt_t = torch.optim.Adam(theirs, lr=0.01)
    for step in range(5):
        _set_grads(ours, theirs, _gradients(np.float32, step))
        opt.step()
        opt_t.step()
    for p, t in zip(ours, theirs, strict=True):
        assert p.data.dtype == np.float32
        assert t.dtype == TORCH_DTYPE[np.dtype(np.float32)]
        assert_close(p.data, t.detach().numpy(), 1e-5, "float32 Adam")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, kwargs", [("SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}),
                                          ("AdamW", {"lr": 0.01})])
def test_training_a_small_network_matches_torch(name, kwargs, dtype):
    """Layers, loss and optimizer together: ten steps of training give PyTorch's weights."""
    st.manual_seed(0)
    model = st.nn.Sequential(st.nn.Linear(4, 8), st.nn.Tanh(), st.nn.Linear(8, 2)).to(dtype)
    reference = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    reference.to(TORCH_DTYPE[np.dtype(dtype)])
    copy_weights_to_torch(model, reference)
    opt, opt_t = getattr(st.optim, name)(model.parameters(), **kwargs), \
        getattr(torch.optim, name)(reference.parameters(), **kwargs)
    criterion, criterion_t = st.nn.MSELoss(), torch.nn.MSELoss()
    rng = np.random.default_rng(7)
    for _ in range(10):
        x, y = rng.standard_normal((5, 4)).astype(dtype), rng.standard_normal((5, 2)).astype(dtype)
        opt.zero_grad()
        criterion(model(x), y)
        model.backward(criterion.backward())
        opt.step()
        opt_t.zero_grad()
        criterion_t(reference(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        opt_t.step()
    theirs = dict(reference.named_parameters())
    for key, param in model.named_parameters():
        assert param.data.dtype == dtype
        assert_close(param.data, theirs[key].detach().numpy(), TOLERANCE[np.dtype(dtype)], f"{name} {key}")
