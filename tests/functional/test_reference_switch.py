"""The switch that runs any model on the reference kernels: a whole network trained a few steps on the reference
path ends with the same parameters as on the fast path (float64, 1e-12), and the switch is one call or one
environment variable."""

import os
import subprocess
import sys

import numpy as np
import pytest

import strided as st
from strided import nn
from strided.functional import fast, reference
from tests.helpers import rel_error

STEPS = 3


def _network():
    """Every kernel family: convolutions (stride, groups, dilation, a padding mode), batch norm, pooling of each
    kind, activations, a residual block, dropout, linear, and a loss."""
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect"), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2), nn.GELU(), nn.MaxPool2d(3, stride=1, padding=1),
        nn.ResidualBlock(8, 8), nn.Conv2d(8, 6, 3, dilation=2, padding=2, bias=False), nn.ELU(),
        nn.AvgPool2d(2, ceil_mode=True), nn.ZeroPad2d((1, 0, 0, 1)), nn.AdaptiveMaxPool2d(3), nn.Tanh(),
        nn.Dropout(0.25), nn.Flatten(), nn.Linear(54, 10), nn.LeakyReLU(0.1), nn.Linear(10, 5),
    ).double()


def _train(use_reference: bool) -> tuple[dict, list]:
    st.functional.use_reference(use_reference)
    try:
        st.manual_seed(0)
        model, loss = _network(), nn.CrossEntropyLoss()
        optimizer = st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(1)
        losses = []
        for _ in range(STEPS):
            x, target = rng.standard_normal((6, 3, 12, 12)), rng.integers(0, 5, 6)
            optimizer.zero_grad()
            losses.append(loss(model(x), target))
            model.backward(loss.backward())
            optimizer.step()
        return model.state_dict(), losses
    finally:
        st.functional.use_reference(False)


def test_a_network_trained_on_the_reference_path_ends_where_the_fast_path_does():
    fast_state, fast_losses = _train(False)
    reference_state, reference_losses = _train(True)
    assert fast_state.keys() == reference_state.keys()
    np.testing.assert_allclose(fast_losses, reference_losses, rtol=1e-12)
    for name, value in fast_state.items():
        assert rel_error(value, reference_state[name]) <= 1e-12, name
    assert fast_losses[-1] != fast_losses[0]  # it did train


def test_use_reference_switches_the_kernels_of_every_layer():
    assert not st.functional.using_reference() and st.functional.kernels() is fast
    st.functional.use_reference(True)
    try:
        assert st.functional.kernels() is reference
    finally:
        st.functional.use_reference(False)


@pytest.mark.parametrize("value, expected", [("1", "True"), ("0", "False"), ("", "False")])
def test_the_environment_variable_sets_the_switch_at_import(value, expected):
    env = dict(os.environ, STRIDED_REFERENCE=value)
    code = "import strided; print(strided.functional.using_reference())"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == expected, result.stderr
