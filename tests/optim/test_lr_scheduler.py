"""Learning-rate schedulers: the sequences equal torch.optim.lr_scheduler's, to the last bit."""

import numpy as np
import pytest
import torch

import strided as st
from strided.io import load_checkpoint, save_checkpoint
from strided.nn import Parameter
from strided.optim import lr_scheduler as sched

STEPS = 50
GROUP_LRS = (0.1, 0.03)


def _optimizers(name="SGD", **kwargs):
    """Ours and PyTorch's optimizer, each over two one-element parameters in two groups."""
    kwargs = {"momentum": 0.9, **kwargs} if name == "SGD" else kwargs
    ours = getattr(st.optim, name)(
        [{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in GROUP_LRS], **kwargs)
    theirs = getattr(torch.optim, name)(
        [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in GROUP_LRS], **kwargs)
    return ours, theirs


def _snapshot(optimizer) -> list:
    """What a schedule controls: each group's lr, momentum and betas."""
    return [(g["lr"], g.get("momentum"), tuple(g["betas"]) if "betas" in g else None)
            for g in optimizer.param_groups]


def _assert_same_sequence(ours_opt, ours, theirs_opt, theirs, steps=STEPS, metrics=None):
    assert _snapshot(ours_opt) == _snapshot(theirs_opt), "after construction"
    assert ours.get_last_lr() == theirs.get_last_lr()
    for step in range(steps):
        ours_opt.step()
        theirs_opt.step()
        if metrics is None:
            ours.step()
            theirs.step()
        else:
            ours.step(metrics[step])
            theirs.step(metrics[step])
        assert _snapshot(ours_opt) == _snapshot(theirs_opt), f"step {step}"
        assert ours.get_last_lr() == theirs.get_last_lr(), f"step {step}"
        assert ours.last_epoch == theirs.last_epoch


def _scale_by_095(epoch):
    return 0.95**epoch


class _Warmup:
    """A callable object: its attributes are state (saved by LambdaLR.state_dict)."""

    def __init__(self, epochs):
        self.epochs = epochs

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.epochs)


SIMPLE = [
    ("StepLR", {"step_size": 7}),
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.3}),
    ("MultiStepLR", {"milestones": [1, 49]}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 20}),  # 50 steps: past the minimum and back up again
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 1e-4}),
    ("CosineAnnealingLR", {"T_max": 1}),
    ("CosineAnnealingLR", {"T_max": 50, "eta_min": 0.01}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
    ("LinearLR", {"start_factor": 1.0, "end_factor": 0.2, "total_iters": 30}),
    ("LinearLR", {"start_factor": 0.25, "end_factor": 0.0, "total_iters": 60}),
    ("LambdaLR", {"lr_lambda": _scale_by_095}),
    ("LambdaLR", {"lr_lambda": [_scale_by_095, lambda e: 1.0 / (1 + e)]}),
    ("LambdaLR", {"lr_lambda": _Warmup(8)}),
]


@pytest.mark.parametrize("name, kwargs", SIMPLE, ids=lambda v: v if isinstance(v, str) else repr(v))
def test_simple_schedules_match_torch(name, kwargs):
    ours_opt, theirs_opt = _optimizers()
    ours = getattr(sched, name)(ours_opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, **kwargs)
    _assert_same_sequence(ours_opt, ours, theirs_opt, theirs)


def _two_schedules(module, optimizer, which):
    if which == "warmup-cosine":
        first = module.LinearLR(optimizer, start_factor=0.1, total_iters=5)
        return [first, module.CosineAnnealingLR(optimizer, T_max=45, eta_min=1e-4)], [5]
    if which == "warmup-exponential":
        return [module.LinearLR(optimizer, 0.2, total_iters=4), module.ExponentialLR(optimizer, 0.9)], [4]
    if which == "three":
        return [module.ExponentialLR(optimizer, 0.8),
                module.StepLR(optimizer, step_size=4, gamma=0.5),
                module.MultiStepLR(optimizer, milestones=[3, 6], gamma=0.1)], [3, 20]
    raise ValueError(which)


@pytest.mark.parametrize("which", ["warmup-cosine", "warmup-exponential", "three"])
def test_sequential_matches_torch(which):
    ours_opt, theirs_opt = _optimizers()
    schedulers, milestones = _two_schedules(sched, ours_opt, which)
    ours = sched.SequentialLR(ours_opt, schedulers, milestones)
    schedulers_t, milestones_t = _two_schedules(torch.optim.lr_scheduler, theirs_opt, which)
    theirs = torch.optim.lr_scheduler.SequentialLR(theirs_opt, schedulers_t, milestones_t)
    _assert_same_sequence(ours_opt, ours, theirs_opt, theirs)


ONE_CYCLE = [
    ("SGD", {"max_lr": 0.1, "total_steps": STEPS}),
    ("SGD", {"max_lr": [0.2, 0.05], "total_steps": STEPS + 7, "pct_start": 0.25, "anneal_strategy": "linear"}),
    ("SGD", {"max_lr": 0.1, "epochs": 5, "steps_per_epoch": 10, "three_phase": True}),
    ("SGD", {"max_lr": 0.1, "total_steps": STEPS, "three_phase": True, "anneal_strategy": "linear",
             "base_momentum": 0.8, "max_momentum": [0.9, 0.99], "div_factor": 10.0, "final_div_factor": 100.0}),
    ("SGD", {"max_lr": 0.1, "total_steps": STEPS, "cycle_momentum": False}),
    ("Adam", {"max_lr": 0.01, "total_steps": STEPS}),
    ("AdamW", {"max_lr": 0.01, "total_steps": STEPS + 1, "three_phase": True, "base_momentum": 0.7}),
    ("Adam", {"max_lr": 0.01, "total_steps": STEPS, "pct_start": 0.5, "anneal_strategy": "linear"}),
]


@pytest.mark.parametrize("optimizer, kwargs", ONE_CYCLE)
def test_one_cycle_lr_and_momentum_match_torch(optimizer, kwargs):
    ours_opt, theirs_opt = _optimizers(optimizer)
    ours = sched.OneCycleLR(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(theirs_opt, **kwargs)
    _assert_same_sequence(ours_opt, ours, theirs_opt, theirs)


def test_one_cycle_past_the_end_is_an_error():
    ours_opt, _ = _optimizers()
    ours = sched.OneCycleLR(ours_opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        ours.step()
    with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of total steps is 3"):
        ours.step()


def _metrics(kind, n=STEPS):
    """A scripted metric: improving, then flat (within the threshold), then noisy, then improving."""
    rng = np.random.default_rng(3)
    values = np.concatenate([np.linspace(1.0, 0.5, 10), np.full(12, 0.5) * (1 - 1e-5 * np.arange(12)),
                             0.5 + 0.05 * rng.standard_normal(14), np.linspace(0.49, 0.3, n - 36)])
    return [float(v) for v in (values if kind == "min" else -values)]


PLATEAU = [
    {},
    {"patience": 2},
    {"patience": 0, "factor": 0.5},
    {"patience": 1, "cooldown": 3, "factor": 0.5},
    {"patience": 2, "threshold": 1e-3, "threshold_mode": "abs"},
    {"mode": "max", "patience": 2, "factor": 0.3},
    {"mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 0.01, "cooldown": 1},
    {"patience": 0, "factor": 0.5, "min_lr": 0.01},
    {"patience": 0, "factor": 0.5, "min_lr": [0.02, 1e-3]},
    {"patience": 0, "factor": 0.9, "eps": 5e-3},  # reductions smaller than eps are skipped
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=repr)
def test_reduce_on_plateau_matches_torch(kwargs):
    ours_opt, theirs_opt = _optimizers()
    ours = sched.ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    metrics = _metrics(kwargs.get("mode", "min"))
    _assert_same_sequence(ours_opt, ours, theirs_opt, theirs, metrics=metrics)
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
        theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter)


def _build(kind, optimizer):
    if kind == "sequential":
        inner = [sched.LinearLR(optimizer, 0.1, total_iters=5), sched.CosineAnnealingLR(optimizer, 40)]
        return sched.SequentialLR(optimizer, inner, [5])
    if kind == "one_cycle":
        return sched.OneCycleLR(optimizer, max_lr=0.2, total_steps=STEPS, three_phase=True)
    if kind == "plateau":
        return sched.ReduceLROnPlateau(optimizer, patience=1, cooldown=2, factor=0.5)
    if kind == "multistep":
        return sched.MultiStepLR(optimizer, [3, 8, 8, 20], gamma=0.5)
    if kind == "lambda":
        return sched.LambdaLR(optimizer, [_Warmup(6), _scale_by_095])
    return getattr(sched, kind)(optimizer, **dict(SIMPLE)[kind])


@pytest.mark.parametrize("kind", ["StepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR", "multistep",
                                  "lambda", "sequential", "one_cycle", "plateau"])
def test_state_dict_round_trip_continues_the_sequence(kind, tmp_path):
    metrics = _metrics("min")

    def advance(optimizer, scheduler, steps):
        lrs = []
        for step in steps:
            optimizer.step()
            scheduler.step(metrics[step]) if kind == "plateau" else scheduler.step()
            lrs.append((scheduler.get_last_lr(), _snapshot(optimizer)))
        return lrs

    opt = _optimizers()[0]
    scheduler = _build(kind, opt)
    advance(opt, scheduler, range(12))
    save_checkpoint(tmp_path / "ckpt", {"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()})
    expected = advance(opt, scheduler, range(12, 40))

    fresh_opt = _optimizers()[0]
    fresh = _build(kind, fresh_opt)
    if kind == "lambda":
        fresh.lr_lambdas[0].epochs = 99  # state of a callable object is restored from the dict
    saved = load_checkpoint(tmp_path / "ckpt")
    fresh_opt.load_state_dict(saved["optimizer"])
    fresh.load_state_dict(saved["scheduler"])
    if kind == "lambda":
        assert fresh.lr_lambdas[0].epochs == 6
    assert advance(fresh_opt, fresh, range(12, 40)) == expected


@pytest.mark.parametrize("name, kwargs", [("StepLR", {"step_size": 4}), ("ExponentialLR", {"gamma": 0.9}),
                                          ("CosineAnnealingLR", {"T_max": 10}), ("LinearLR", {})])
def test_resuming_with_last_epoch_matches_torch(name, kwargs):
    ours_opt, theirs_opt = _optimizers()
    for group in ours_opt.param_groups + theirs_opt.param_groups:
        group["initial_lr"] = group["lr"]
    ours = getattr(sched, name)(ours_opt, last_epoch=6, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(theirs_opt, last_epoch=6, **kwargs)
    _assert_same_sequence(ours_opt, ours, theirs_opt, theirs, steps=20)


def test_resuming_without_initial_lr_is_an_error():
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(_optimizers()[0], step_size=3, last_epoch=4)


class _NoMomentum(st.optim.Optimizer):
    def __init__(self, params):
        super().__init__(params, {"lr": 0.1})


@pytest.mark.parametrize("make, error, message", [
    (lambda o: sched.LinearLR(o, start_factor=0.0), ValueError, "Starting multiplicative factor"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative factor"),
    (lambda o: sched.LambdaLR(o, [_scale_by_095]), ValueError, "Expected 2 lr_lambdas, but got 1"),
    (lambda o: sched.SequentialLR(o, [], []), ValueError, "at least one scheduler"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2), sched.StepLR(o, 3)], []), ValueError,
     "one milestone fewer than schedulers"),
    (lambda o: sched.SequentialLR(o, [sched.ReduceLROnPlateau(o)], []), ValueError,
     "does not support ReduceLROnPlateau"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(_optimizers()[0], 2)], []), ValueError, "to its optimizer"),
    (lambda o: sched.OneCycleLR(o, 0.1), ValueError, "either total_steps OR"),
    (lambda o: sched.OneCycleLR(o, 0.1, total_steps=0), ValueError, "positive integer total_steps"),
    (lambda o: sched.OneCycleLR(o, 0.1, epochs=2, steps_per_epoch=-1), ValueError, "positive integer steps_per_epoch"),
    (lambda o: sched.OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), ValueError, "pct_start"),
    (lambda o: sched.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
    (lambda o: sched.OneCycleLR(o, [0.1, 0.2, 0.3], total_steps=10), ValueError, "max_lr must have the same length"),
    (lambda o: sched.OneCycleLR(_NoMomentum([Parameter(np.zeros(1))]), 0.1, total_steps=10), ValueError,
     "must support momentum or beta1"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="lowest"), ValueError, "mode lowest is unknown"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold mode pct is unknown"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs, got 1"),
    (lambda o: sched.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)]), 2), TypeError, "not an Optimizer"),
])
def test_invalid_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(_optimizers()[0])
