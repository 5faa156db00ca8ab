"""RMSprop step for step against torch.optim.RMSprop over 20 steps (every option, both dtypes), its
state dict (resuming gives the same trajectory), parameter groups and errors."""

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close

SHAPES = [(3, 4), (5,), (2, 3, 2)]
STEPS = 20

CONFIGS = [
    {},
    {"lr": 0.05, "alpha": 0.9},
    {"lr": 0.01, "eps": 1e-3},
    {"lr": 0.01, "weight_decay": 0.1},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.01, "alpha": 0.3, "centered": True},  # 1 - alpha >= 0.5: lerp's other rounding branch
    {"lr": 0.005, "momentum": 0.8, "centered": True, "weight_decay": 0.05},
    {"lr": 0.01, "momentum": 0.5, "maximize": True},
    {"lr": 0.02, "alpha": 0.95, "eps": 1e-6, "weight_decay": 0.01, "momentum": 0.7, "centered": True,
     "maximize": True},
]


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    values = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    return [st.nn.Parameter(v.copy()) for v in values], [torch.tensor(v.copy(), requires_grad=True) for v in values]


def _step_both(ours, theirs, opt, opt_t, dtype, step):
    """Give both sides the same random gradients (the last parameter none on every 4th step) and step."""
    rng = np.random.default_rng([1, step])
    for i, (p, t) in enumerate(zip(ours, theirs, strict=True)):
        g = None if (i == len(ours) - 1 and step % 4 == 3) else rng.standard_normal(p.shape).astype(dtype)
        p.grad = None if g is None else g.copy()
        t.grad = None if g is None else torch.from_numpy(g.copy())
    opt.step()
    opt_t.step()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_steps_match_torch(kwargs, dtype):
    ours, theirs = _params(dtype)
    opt, opt_t = st.optim.RMSprop(ours, **kwargs), torch.optim.RMSprop(theirs, **kwargs)
    for step in range(STEPS):
        _step_both(ours, theirs, opt, opt_t, dtype, step)
        for i, (p, t) in enumerate(zip(ours, theirs, strict=True)):
            assert p.data.dtype == dtype
            assert_close(p.data, t.detach().numpy(), TOLERANCE[np.dtype(dtype)], f"step {step} parameter {i}")
    state, state_t = opt.state[ours[0]], opt_t.state[theirs[0]]
    assert sorted(state) == sorted(state_t)
    for key, value in state.items():
        expected = state_t[key]
        assert_close(value, expected.numpy() if isinstance(expected, torch.Tensor) else expected, 1e-5, key)
        assert not isinstance(value, np.ndarray) or value.dtype == dtype


def test_state_dict_resumes_the_same_trajectory():
    kwargs = {"lr": 0.01, "momentum": 0.9, "centered": True}
    ours, theirs = _params(np.float64)
    opt, opt_t = st.optim.RMSprop(ours, **kwargs), torch.optim.RMSprop(theirs, **kwargs)
    for step in range(5):
        _step_both(ours, theirs, opt, opt_t, np.float64, step)
    resumed = st.optim.RMSprop(ours, **kwargs)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    for step in range(5, 10):
        _step_both(ours, theirs, resumed, opt_t, np.float64, step)
    for p, t in zip(ours, theirs, strict=True):
        assert_close(p.data, t.detach().numpy(), 1e-9, "after resuming")


def test_param_groups_and_defaults():
    ours, _ = _params(np.float64)
    opt = st.optim.RMSprop([{"params": ours[:1], "lr": 0.1}, {"params": ours[1:], "centered": True}])
    assert opt.defaults == {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0, "momentum": 0,
                            "centered": False, "maximize": False}
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert [g["centered"] for g in opt.param_groups] == [False, True]


@pytest.mark.parametrize("kwargs, message", [({"lr": -1}, "learning rate"), ({"alpha": -0.1}, "alpha"),
                                             ({"eps": -1}, "epsilon"), ({"momentum": -1}, "momentum"),
                                             ({"weight_decay": -1}, "weight_decay")])
def test_invalid_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        st.optim.RMSprop([st.nn.Parameter(np.ones(2))], **kwargs)
