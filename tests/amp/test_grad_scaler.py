"""st.amp.GradScaler against torch.amp.GradScaler("cpu"): the same scales, the same skipped steps."""

import numpy as np
import pytest

import strided as st

torch = pytest.importorskip("torch")


def _script(rng, steps):
    """Per step, a gradient (float32) for two parameters: mostly finite, sometimes inf or NaN."""
    script = []
    for step in range(steps):
        grads = [rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal(4).astype(np.float32)]
        kind = step % 7
        if kind == 3:
            grads[0][1, 1] = np.inf
        elif kind == 5:
            grads[1][2] = np.nan
        elif kind == 6 and step % 2:
            grads[0][0, 0] = -np.inf
        script.append(grads)
    return script


@pytest.mark.parametrize("kwargs", [dict(init_scale=2.0**16, growth_interval=3),
                                    dict(init_scale=1024.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=2),
                                    dict(init_scale=2.0**127, growth_interval=1)])  # growth would overflow float32
def test_scale_sequence_and_skipped_steps_equal_torch(kwargs):
    script = _script(np.random.default_rng(0), 40)
    start = [np.ones((3, 2), np.float32), np.ones(4, np.float32)]

    params = [st.nn.Parameter(a.copy()) for a in start]
    optimizer = st.optim.SGD(params, lr=0.1)
    scaler = st.amp.GradScaler(**kwargs)
    t_params = [torch.nn.Parameter(torch.tensor(a)) for a in start]
    t_optimizer = torch.optim.SGD(t_params, lr=0.1)
    t_scaler = torch.amp.GradScaler("cpu", **kwargs)

    scales, t_scales, stepped, t_stepped = [], [], [], []
    for grads in script:
        scale = scaler.get_scale()
        for p, g in zip(params, grads, strict=True):
            with np.errstate(over="ignore"):
                p.grad = g * np.float32(scale)  # what a backward seeded with scaler.scale(1.0) would give
        before = [p.data.copy() for p in params]
        scaler.step(optimizer)
        stepped.append(not np.array_equal(before[1], params[1].data) or not np.array_equal(before[0], params[0].data))
        unscaled = [p.grad.copy() for p in params]
        scaler.update()
        scales.append(scaler.get_scale())

        t_scale = t_scaler.get_scale()
        assert t_scale == scale
        for p, g in zip(t_params, grads, strict=True):
            p.grad = torch.tensor(g) * t_scaler.scale(torch.tensor(1.0))
        t_before = [p.detach().clone() for p in t_params]
        t_scaler.step(t_optimizer)
        t_stepped.append(any(not torch.equal(b, p.detach()) for b, p in zip(t_before, t_params, strict=True)))
        t_scaler.update()
        t_scales.append(t_scaler.get_scale())
        for ours, theirs in zip(unscaled, t_params, strict=True):  # the same unscaled gradients, bit for bit
            np.testing.assert_array_equal(ours, theirs.grad.numpy())

    assert scales == t_scales
    assert stepped == t_stepped
    assert not all(stepped) and any(stepped)
    for p, t in zip(params, t_params, strict=True):  # SGD's update may round 1 ulp apart (torch fuses it)
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-6)
    t_state = t_scaler.state_dict()
    assert scaler.state_dict() == {k: (float(v) if k == "scale" else v) for k, v in t_state.items()}


def test_unscale_before_clipping_and_call_order_errors():
    param = st.nn.Parameter(np.ones(2, np.float32))
    optimizer = st.optim.SGD([param], lr=1.0)
    scaler = st.amp.GradScaler(init_scale=8.0)
    param.grad = np.array([8.0, -16.0], np.float32)
    scaler.unscale_(optimizer)
    np.testing.assert_array_equal(param.grad, [1.0, -2.0])
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(optimizer)
    scaler.step(optimizer)  # does not unscale twice
    np.testing.assert_array_equal(param.data, [0.0, 3.0])
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(optimizer)
    scaler.update()
    assert scaler.get_scale() == 8.0


def test_state_dict_round_trip_and_disabled():
    scaler = st.amp.GradScaler(init_scale=4.0, growth_interval=5)
    scaler._growth_tracker = 3
    other = st.amp.GradScaler()
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()

    off = st.amp.GradScaler(enabled=False)
    assert off.scale(2.5) == 2.5 and off.get_scale() == 1.0 and off.state_dict() == {}
    param = st.nn.Parameter(np.ones(1, np.float32))
    param.grad = np.array([np.inf], np.float32)
    off.step(st.optim.SGD([param], lr=1.0))  # disabled: a plain step, inf and all
    assert np.isinf(param.data[0])
    with pytest.raises(RuntimeError):
        off.load_state_dict({"scale": 1.0})


@pytest.mark.parametrize("kwargs, error", [(dict(growth_factor=1.0), ValueError),
                                           (dict(backoff_factor=1.5), ValueError),
                                           (dict(growth_interval=0), ValueError),
                                           (dict(init_scale="big"), TypeError)])
def test_bad_arguments(kwargs, error):
    with pytest.raises(error, match="GradScaler"):
        st.amp.GradScaler(**kwargs)
