"""Losses: value and gradient against torch.nn over many configurations, numerical gradients, errors."""

import itertools
import zlib

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close, check_numerical_gradients

DTYPES = (np.float64, np.float32)


def compare_with_torch(ours, theirs, output, target, torch_target=None, seed=0):
    """Run both losses on the same output and target; compare the value and dLoss/doutput."""
    dtype = np.dtype(output.dtype)
    tol = TOLERANCE[dtype]
    value = ours(output, target)
    output_t = torch.tensor(output, requires_grad=True)
    value_t = theirs(output_t, torch.from_numpy(np.asarray(target)) if torch_target is None else torch_target)
    if ours.reduction == "none":
        grad_out = np.random.default_rng(seed).standard_normal(np.shape(value)).astype(dtype)
        assert value.dtype == dtype
        grad = ours.backward(grad_out)
        value_t.backward(torch.from_numpy(grad_out))
    else:
        assert isinstance(value, float)
        grad = ours.backward()
        value_t.backward()
    errors = {"value": assert_close(value, value_t.detach().numpy(), tol, "loss value"),
              "grad": assert_close(grad, output_t.grad.numpy(), tol, "gradient")}
    assert grad.dtype == dtype and grad.shape == output.shape
    return errors


def _case_id(case) -> str:
    return "-".join(np.dtype(v).name if isinstance(v, type) else str(v) for v in case)


def _weights(num_classes, dtype, rng):
    return rng.uniform(0.2, 2.0, num_classes).astype(dtype)


# ---------------------------------------------------------------- cross-entropy and NLL on class indices
SHAPES = [(1, 2), (4, 3), (8, 10), (3, 1), (2, 4, 3), (2, 3, 2, 2), (5,)]
CLASS_CASES = list(itertools.product(
    SHAPES, [False, True], ["mean", "sum", "none"], [0.0, 0.1, 0.5], [-100, 1], DTYPES))


def _class_case(case):
    shape, weighted, reduction, smoothing, ignore_index, dtype = case
    case_id = "-".join(map(str, (shape, weighted, reduction, smoothing, ignore_index, np.dtype(dtype).name)))
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    num_classes = shape[0] if len(shape) == 1 else shape[1]
    output = (rng.standard_normal(shape) * 3).astype(dtype)
    target_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    target = rng.integers(0, num_classes, target_shape)
    if target.size > 2:  # some targets ignored, but never all of them (test_all_targets_ignored_... does that)
        target.flat[0] = ignore_index
    if np.all(target == ignore_index):
        target.flat[-1] = (ignore_index + 1) % num_classes
    kwargs = {"ignore_index": ignore_index, "reduction": reduction}
    weight = _weights(num_classes, dtype, rng) if weighted else None
    return output, target, weight, kwargs, smoothing, rng


@pytest.mark.parametrize("case", CLASS_CASES, ids=_case_id)
def test_cross_entropy_parity(case):
    output, target, weight, kwargs, smoothing, rng = _class_case(case)
    ours = st.nn.CrossEntropyLoss(weight=weight, label_smoothing=smoothing, **kwargs)
    theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.from_numpy(weight),
                                       label_smoothing=smoothing, **kwargs)
    compare_with_torch(ours, theirs, output, target, seed=int(rng.integers(2**31)))


@pytest.mark.parametrize("case", [c for c in CLASS_CASES if c[3] == 0.0], ids=_case_id)
def test_nll_parity(case):
    output, target, weight, kwargs, _, rng = _class_case(case)
    ours = st.nn.NLLLoss(weight=weight, **kwargs)
    theirs = torch.nn.NLLLoss(weight=None if weight is None else torch.from_numpy(weight), **kwargs)
    compare_with_torch(ours, theirs, output, target, seed=int(rng.integers(2**31)))


PROBABILITY_CASES = list(itertools.product([(4, 3), (2, 5, 3), (6,)], [False, True], ["mean", "sum", "none"],
                                           [0.0, 0.2], DTYPES))


@pytest.mark.parametrize("case", PROBABILITY_CASES, ids=_case_id)
def test_cross_entropy_with_class_probabilities_parity(case):
    shape, weighted, reduction, smoothing, dtype = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    output = (rng.standard_normal(shape) * 2).astype(dtype)
    probabilities = np.moveaxis(rng.dirichlet(np.ones(shape[0 if len(shape) == 1 else 1]),
                                              (shape[0],) + shape[2:] if len(shape) > 1 else ()), -1,
                                0 if len(shape) == 1 else 1).astype(dtype)
    weight = _weights(probabilities.shape[0 if len(shape) == 1 else 1], dtype, rng) if weighted else None
    ours = st.nn.CrossEntropyLoss(weight=weight, reduction=reduction, label_smoothing=smoothing)
    theirs = torch.nn.CrossEntropyLoss(weight=None if weight is None else torch.from_numpy(weight),
                                       reduction=reduction, label_smoothing=smoothing)
    compare_with_torch(ours, theirs, output, probabilities, seed=1)


# ---------------------------------------------------------------- MSE and BCE with logits
ELEMENTWISE_CASES = list(itertools.product([(5,), (4, 3), (2, 3, 4, 4)], ["mean", "sum", "none"], DTYPES))


@pytest.mark.parametrize("shape, reduction, dtype", ELEMENTWISE_CASES)
def test_mse_parity(shape, reduction, dtype):
    rng = np.random.default_rng(zlib.crc32(repr((shape, reduction)).encode()))
    output, target = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    compare_with_torch(st.nn.MSELoss(reduction), torch.nn.MSELoss(reduction=reduction), output, target)


@pytest.mark.parametrize("shape, reduction, dtype", ELEMENTWISE_CASES)
@pytest.mark.parametrize("weighted, pos_weighted", [(False, False), (True, False), (False, True), (True, True)])
def test_bce_with_logits_parity(shape, reduction, dtype, weighted, pos_weighted):
    rng = np.random.default_rng(zlib.crc32(repr((shape, reduction, weighted, pos_weighted)).encode()))
    output = (rng.standard_normal(shape) * 4).astype(dtype)
    target = rng.uniform(0, 1, shape).astype(dtype)
    weight = rng.uniform(0.5, 2, shape[-1:]).astype(dtype) if weighted else None
    pos_weight = rng.uniform(0.5, 3, shape[-1:]).astype(dtype) if pos_weighted else None
    ours = st.nn.BCEWithLogitsLoss(weight=weight, reduction=reduction, pos_weight=pos_weight)
    theirs = torch.nn.BCEWithLogitsLoss(weight=None if weight is None else torch.from_numpy(weight),
                                        reduction=reduction,
                                        pos_weight=None if pos_weight is None else torch.from_numpy(pos_weight))
    compare_with_torch(ours, theirs, output, target)


# ---------------------------------------------------------------- numerical gradients
class WithTarget(st.nn.Module):
    """A loss with its target fixed, seen as a layer output -> loss, so check_numerical_gradients applies."""

    def __init__(self, loss, target):
        super().__init__()
        self.loss = loss
        self.target = target

    def forward(self, x):
        return np.asarray(self.loss(x, self.target))

    def backward(self, grad_out):
        return self.loss.backward(grad_out)


NUMERICAL_CASES = [
    (st.nn.CrossEntropyLoss(), (4, 5), "classes"),
    (st.nn.CrossEntropyLoss(weight=np.array([0.5, 1.0, 2.0]), label_smoothing=0.2, ignore_index=0), (6, 3), "classes"),
    (st.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1), (2, 3, 2, 2), "classes"),
    (st.nn.CrossEntropyLoss(reduction="sum"), (3, 4), "probabilities"),
    (st.nn.NLLLoss(weight=np.array([1.0, 3.0, 0.5, 2.0])), (5, 4), "classes"),
    (st.nn.MSELoss(), (3, 4), "values"),
    (st.nn.MSELoss(reduction="none"), (2, 3), "values"),
    (st.nn.BCEWithLogitsLoss(pos_weight=np.array([0.5, 2.0, 1.0])), (4, 3), "unit"),
]


@pytest.mark.parametrize("loss, shape, kind", NUMERICAL_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_numerical_gradients(loss, shape, kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape)
    target = {
        "classes": lambda: rng.integers(0, shape[1], (shape[0],) + shape[2:]),
        "probabilities": lambda: rng.dirichlet(np.ones(shape[1]), shape[0]),
        "values": lambda: rng.standard_normal(shape),
        "unit": lambda: rng.uniform(0, 1, shape),
    }[kind]()
    check_numerical_gradients(WithTarget(loss, target), x)


# ---------------------------------------------------------------- behaviour
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    output = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4 + 1]], dtype=dtype)
    target = np.array([1, 2])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = st.nn.CrossEntropyLoss()(output, target)
    compare_with_torch(st.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss(), output, target)
    assert np.isfinite(value)


@pytest.mark.parametrize("loss", [st.nn.CrossEntropyLoss(), st.nn.CrossEntropyLoss(label_smoothing=0.1),
                                  st.nn.NLLLoss()])
def test_all_targets_ignored_gives_nan_and_zero_gradients_like_torch(loss):
    output, target = np.zeros((2, 3)), np.array([-100, -100])
    with np.errstate(invalid="raise"):
        assert np.isnan(loss(output, target))
        np.testing.assert_array_equal(loss.backward(), np.zeros((2, 3)))
    theirs = getattr(torch.nn, type(loss).__name__)()
    assert torch.isnan(theirs(torch.from_numpy(output), torch.from_numpy(target)))


def test_mse_keeps_float32_when_the_target_is_float64():
    output = np.ones((2, 3), np.float32)
    loss = st.nn.MSELoss()
    assert loss(output, np.zeros((2, 3))) == 1.0
    assert loss.backward().dtype == np.float32


def test_training_step_through_a_model_matches_torch():
    st.manual_seed(0)
    ours = st.nn.Sequential(st.nn.Linear(6, 8), st.nn.ReLU(), st.nn.Linear(8, 4)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4)).double()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 6)), rng.integers(0, 4, 5)
    criterion = st.nn.CrossEntropyLoss(label_smoothing=0.1)
    value = criterion(ours(x), y)
    ours.backward(criterion.backward())
    value_t = torch.nn.CrossEntropyLoss(label_smoothing=0.1)(theirs(torch.from_numpy(x)), torch.from_numpy(y))
    value_t.backward()
    assert_close(value, value_t.item(), 1e-12, "loss")
    for (name, param), (_, param_t) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert_close(param.grad, param_t.grad.numpy(), 1e-12, name)


def test_weight_buffer_and_repr_are_pytorchs():
    weight = np.array([1.0, 2.0, 3.0], np.float32)
    ours, theirs = st.nn.CrossEntropyLoss(weight=weight), torch.nn.CrossEntropyLoss(weight=torch.from_numpy(weight))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert list(st.nn.CrossEntropyLoss().parameters()) == []
    assert repr(st.nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(st.nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


def test_loss_values_are_in_the_output_dtype():
    for dtype in DTYPES:
        loss = st.nn.CrossEntropyLoss(weight=np.ones(3), reduction="none")
        assert loss(np.zeros((2, 3), dtype), np.array([0, 2])).dtype == dtype
        assert loss.backward().dtype == dtype


# ---------------------------------------------------------------- errors
def test_cross_entropy_errors():
    loss = st.nn.CrossEntropyLoss()
    logits = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: target 5 is out of range for 5 classes "
                                         r"\(expected 0 <= target < 5, or ignore_index=-100\)"):
        loss(logits, np.array([0, 5, 1, 7]))
    with pytest.raises(ValueError, match="target -3 is out of range for 5 classes"):
        loss(logits, np.array([0, -3, 1, 2]))
    with pytest.raises(ValueError, match=r"expected target of shape \(4,\) for output of shape \(4, 5\) "
                                         r"\(classes on axis 1\), got \(4, 1\)"):
        loss(logits, np.zeros((4, 1), np.int64))
    with pytest.raises(ValueError, match="expected integer class indices as target, got dtype float64"):
        loss(logits, np.zeros(4))
    with pytest.raises(ValueError, match=r"weight has shape \(3,\), expected \(5,\)"):
        st.nn.CrossEntropyLoss(weight=np.ones(3))(logits, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="expected a floating-point array"):
        loss(np.zeros((4, 5), np.int64), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0, got 1.5"):
        st.nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        st.nn.CrossEntropyLoss(reduction="average")


def test_backward_errors():
    loss = st.nn.CrossEntropyLoss()
    with pytest.raises(RuntimeError, match=r"CrossEntropyLoss: backward\(\) needs a forward\(\) first"):
        loss.backward()
    loss(np.zeros((2, 3)), np.array([0, 1]))
    with pytest.raises(ValueError, match="backward expected a scalar gradient, got shape"):
        loss.backward(np.ones(2))
    loss(np.zeros((2, 3)), np.array([0, 1]))
    loss.backward()
    with pytest.raises(RuntimeError, match="needs a forward"):  # one backward per forward
        loss.backward()
    none = st.nn.MSELoss(reduction="none")
    none(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"backward expected a gradient of shape \(2, 3\) \(reduction='none'\)"):
        none.backward(np.ones(3))


def test_elementwise_loss_errors():
    with pytest.raises(ValueError, match=r"MSELoss: target shape \(3,\) does not match output shape \(3, 1\)"):
        st.nn.MSELoss()(np.zeros((3, 1)), np.zeros(3))
    with pytest.raises(ValueError, match=r"BCEWithLogitsLoss: target shape \(2, 2\) does not match"):
        st.nn.BCEWithLogitsLoss()(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(2,\) does not broadcast to the output's shape"):
        st.nn.BCEWithLogitsLoss(pos_weight=np.ones(2))(np.zeros((2, 3)), np.zeros((2, 3)))
