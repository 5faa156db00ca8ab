"""Mixed precision storage: what is stored in 16 bits, and a mixed step's gradients against float32's.

The bound: every saved activation and inter-layer gradient is rounded to 16 bits (relative error
u = 2^-11 for float16, 2^-8 for bfloat16) and everything else is float32, so around one layer each
gradient's relative error (norm-wise) stays within a few u: at most 1.04 u measured, 4 u allowed. Through a
whole network the gradient is rounded once per hand-off on its way back and the errors add up: on
resnet_cifar20 at most 3.9 u on one parameter and 1.8 u over all of them; 8 u and 4 u allowed.
"""

import numpy as np
import pytest

import strided as st
from strided.functional.dispatch import kernels
from strided.functional.storage import storage_dtype

UNIT_ROUNDOFF = {"16-mixed": 2.0**-11, "bf16-mixed": 2.0**-8}
BOUND = 4  # times the unit roundoff
NETWORK_BOUND = 8  # each parameter of a whole network: see test_network_step_within_bound


def _layers():
    """(name, a builder of a model around that layer kind, input shape).

    No bias before a batch norm: its exact gradient is 0 (the norm removes the mean), so no relative error.
    """
    return [
        ("Conv2d", lambda: st.nn.Sequential(st.nn.Conv2d(3, 6, 3, padding=1), st.nn.Conv2d(6, 4, 3, stride=2)),
         (4, 3, 10, 10)),
        ("Linear", lambda: st.nn.Sequential(st.nn.Linear(12, 16), st.nn.Linear(16, 5)), (6, 12)),
        ("BatchNorm2d", lambda: st.nn.Sequential(st.nn.Conv2d(3, 4, 3, bias=False), st.nn.BatchNorm2d(4),
                                                 st.nn.Conv2d(4, 2, 1)),
         (5, 3, 8, 8)),
        ("ReLU", lambda: st.nn.Sequential(st.nn.Conv2d(3, 4, 3), st.nn.ReLU(), st.nn.Conv2d(4, 2, 1)), (3, 3, 8, 8)),
        ("GELU", lambda: st.nn.Sequential(st.nn.Linear(8, 8), st.nn.GELU(), st.nn.Linear(8, 3)), (6, 8)),
        ("ELU", lambda: st.nn.Sequential(st.nn.Linear(8, 8), st.nn.ELU(), st.nn.Linear(8, 3)), (6, 8)),
        ("Sigmoid", lambda: st.nn.Sequential(st.nn.Linear(8, 8), st.nn.Sigmoid(), st.nn.Linear(8, 3)), (6, 8)),
        ("Tanh", lambda: st.nn.Sequential(st.nn.Linear(8, 8), st.nn.Tanh(), st.nn.Linear(8, 3)), (6, 8)),
        ("MaxPool2d", lambda: st.nn.Sequential(st.nn.Conv2d(3, 4, 3), st.nn.MaxPool2d(2), st.nn.Conv2d(4, 2, 1)),
         (3, 3, 9, 9)),
        ("AvgPool2d", lambda: st.nn.Sequential(st.nn.Conv2d(3, 4, 3), st.nn.AvgPool2d(2), st.nn.Conv2d(4, 2, 1)),
         (3, 3, 9, 9)),
        ("Softmax", lambda: st.nn.Sequential(st.nn.Linear(8, 8), st.nn.Softmax(dim=1), st.nn.Linear(8, 3)), (6, 8)),
    ]


def _gradients(build, shape, precision, seed=0):
    st.manual_seed(seed)
    model = build()
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    with st.amp.get_precision(precision).autocast():
        y = model(x)
    grad_x = model.backward(rng.standard_normal(y.shape).astype(np.float32))
    grads = {name: p.grad for name, p in model.named_parameters()}
    grads["input"] = grad_x.astype(np.float32)
    return grads


@pytest.mark.parametrize("precision", ["16-mixed", "bf16-mixed"])
@pytest.mark.parametrize("name, build, shape", _layers(), ids=[layer[0] for layer in _layers()])
def test_mixed_gradients_within_16_bit_error_of_float32(name, build, shape, precision):
    exact = _gradients(build, shape, "32")
    mixed = _gradients(build, shape, precision)
    u = UNIT_ROUNDOFF[precision]
    errors = {k: np.linalg.norm(mixed[k] - exact[k]) / np.linalg.norm(exact[k]) for k in exact}
    assert all(mixed[k].dtype == np.float32 for k in mixed if k != "input")  # master gradients stay float32
    assert max(errors.values()) <= BOUND * u, errors
    assert max(errors.values()) > 0  # something was stored in 16 bits (the test can fail)


# (a builder, the input side): a residual and a dense network. Their gradients are stored in 16 bits at
# every hand-off, inside the blocks too (tests/amp/test_gradient_handoff.py).
NETWORKS = {"resnet_cifar20": (lambda: st.models.resnet_cifar20(num_classes=10), 32),
            "densenet_cifar": (lambda: st.models.densenet_cifar(num_classes=10, block_config=(3, 3), growth_rate=8),
                               16)}


@pytest.mark.parametrize("name", NETWORKS)
def test_network_step_within_bound(name):
    """All the gradients of one step (as one vector, what the optimizer uses) within BOUND u of float32's, and
    each parameter's within NETWORK_BOUND u: the gradient reaching the first layers has been rounded once per
    hand-off on its way back (about 60 in resnet_cifar20), and such roundings add up as a random walk,
    sqrt(60) * u / sqrt(3) = 4.5 u for an error uniform in [-u, u]."""
    build, side = NETWORKS[name]
    st.manual_seed(0)
    model = build()
    x = np.random.default_rng(0).standard_normal((4, 3, side, side)).astype(np.float32)
    target = np.arange(4)
    criterion = st.nn.CrossEntropyLoss()

    def step(precision):
        model.zero_grad()
        with st.amp.get_precision(precision).autocast():
            criterion(model(x), target)
        model.backward(criterion.backward())
        return {n: p.grad.copy() for n, p in model.named_parameters()}

    exact = step("32")
    for precision, u in UNIT_ROUNDOFF.items():
        mixed = step(precision)
        squared_error = sum(np.sum((mixed[n] - exact[n]) ** 2) for n in exact)
        overall = np.sqrt(squared_error / sum(np.sum(g**2) for g in exact.values()))
        worst = max(np.linalg.norm(mixed[n] - exact[n]) / np.linalg.norm(exact[n]) for n in exact)
        assert 0 < overall <= BOUND * u and worst <= NETWORK_BOUND * u, (precision, overall / u, worst / u)


@pytest.mark.parametrize("reference", [False, True])
def test_what_a_context_stores(reference):
    """Activations in 16 bits, the weight (a parameter) and batch norm's statistics in float32."""
    st.functional.use_reference(reference)
    try:
        x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
        w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype(np.float32)
        with st.amp.autocast(dtype=np.float16):
            assert storage_dtype() == np.float16
            _, conv = kernels().conv2d_forward(x, w, None, (1, 1), (1, 1, 1, 1), (1, 1), 1)
            _, relu = kernels().relu_forward(x)
            _, softmax = kernels().softmax_forward(x, 1)
            ones, zeros = np.ones(3, np.float32), np.zeros(3, np.float32)
            _, norm = kernels().batch_norm_forward(x, zeros.copy(), ones.copy(), ones, zeros, True, 0.1, 1e-5)
        assert storage_dtype() is None
        saved = conv.cols if reference else conv.grid
        assert saved.dtype == np.float16 and conv.weight.dtype == np.float32 and conv.weight is w
        # the reference ReLU keeps y (16 bits); the fast one only where y > 0, as 1-byte booleans
        assert relu.y.dtype == np.float16 if reference else relu.positive.dtype == np.bool_
        assert softmax.y.dtype == np.float32  # autocast's float32 list
        assert (norm.x_hat if reference else norm.centred).dtype == np.float16 and norm.inv_std.dtype == np.float32
        dx, dw, _ = conv.backward(np.ones((2, 4, 6, 6), np.float16))
        assert dx.dtype == np.float32 and dw.dtype == np.float32
    finally:
        st.functional.use_reference(False)


def test_sequential_passes_16_bit_gradients_and_float64_is_untouched():
    model = st.nn.Sequential(st.nn.Linear(4, 5), st.nn.ReLU(), st.nn.Linear(5, 2))
    x = np.ones((3, 4), np.float32)
    with st.amp.autocast(dtype=st.amp.bfloat16()):
        y = model(x)
    assert model.backward(np.ones_like(y)).dtype == st.amp.bfloat16()
    model = model.double()
    with st.amp.autocast(dtype=np.float16):
        y = model(x.astype(np.float64))
    assert model.backward(np.ones_like(y)).dtype == np.float64 and model[0].weight.grad.dtype == np.float64


def test_policies_and_errors(monkeypatch):
    assert st.amp.get_precision("32").storage_dtype is None
    assert st.amp.get_precision(16).name == "16-mixed" and st.amp.get_precision("16-mixed").needs_scaler
    bf16 = st.amp.get_precision("bf16-mixed")
    assert bf16.storage_dtype.itemsize == 2 and not bf16.needs_scaler
    with pytest.raises(ValueError, match="'32', '16-mixed', 'bf16-mixed'"):
        st.amp.get_precision("8-mixed")
    with pytest.raises(ValueError, match="autocast"):
        with st.amp.autocast(dtype=np.float32):
            pass
    import sys
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"pip install 'strided\[amp\]'"):
        st.amp.get_precision("bf16-mixed")
