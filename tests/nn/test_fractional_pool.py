"""FractionalMaxPool2d: with the samples our layer drew handed to PyTorch, the windows, outputs and
gradients are PyTorch's; the samples come from strided's seeded generator; errors are clear."""

import numpy as np
import pytest
import torch

import strided as st
from strided import nn
from strided.functional.fractional_pool import fractional_max_pool2d, fractional_starts
from tests.helpers import check_numerical_gradients, check_torch_parity

DTYPES = [np.float64, np.float32]


class TorchTwin(torch.nn.Module):
    """PyTorch's fractional max pooling, run on the samples our layer drew in its last forward."""

    def __init__(self, ours, **kwargs):
        super().__init__()
        self.ours, self.kwargs = ours, kwargs

    def forward(self, x):
        samples = torch.from_numpy(np.asarray(self.ours.last_samples)).to(x.dtype)
        return torch.nn.functional.fractional_max_pool2d(x, self.ours.kernel_size, _random_samples=samples,
                                                         **self.kwargs)


def _configs(count=60, seed=6):
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < count:
        kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
        hw = tuple(int(v) for v in rng.integers(2, 16, 2))
        if hw[0] < kernel[0] or hw[1] < kernel[1]:
            continue
        out = tuple(int(rng.integers(1, size - k + 2)) for size, k in zip(hw, kernel, strict=True))
        configs.append((kernel, hw, out, (int(rng.integers(1, 3)), int(rng.integers(1, 4)))))
    return configs


CONFIGS = _configs()


def _input(shape, dtype, seed=0, ties=False):
    x = np.random.default_rng(seed).standard_normal(shape)
    return (np.maximum(np.round(x), 0) if ties else x).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index", range(len(CONFIGS)))
def test_matches_torch_given_the_same_samples(index, dtype):
    kernel, hw, out, nc = CONFIGS[index]
    st.manual_seed(index)
    ours = nn.FractionalMaxPool2d(kernel, output_size=out)
    check_torch_parity(ours, TorchTwin(ours, output_size=out), _input((*nc, *hw), dtype, index, ties=index % 3 == 0))
    assert ours.last_samples.shape == (*nc, 2) and ours.last_samples.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ratio", [0.5, (0.7, 0.4), 0.75])
def test_output_ratio_matches_torch(ratio, dtype):
    st.manual_seed(1)
    ours = nn.FractionalMaxPool2d((2, 3), output_ratio=ratio)
    twin = TorchTwin(ours, output_ratio=ratio if isinstance(ratio, tuple) else (ratio, ratio))
    check_torch_parity(ours, twin, _input((2, 3, 11, 13), dtype))


def _extreme_samples(dtype):
    below_one = np.nextafter(dtype(1), dtype(0))  # 1 + below_one rounds to 2 in this dtype
    return np.array([[[below_one, below_one], [0.5, 0.25], [1e-7, 0.9999]], [[0.0, 0.0], [0.3, 0.7], [0.1, 0.6]]],
                    dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, out, samples", [
    (17, (6, 5), _extreme_samples),
    # (i + u) * alpha lands next to an integer: float32 arithmetic floors differently from float64 here
    (21, (16, 16), lambda dtype: np.full((1, 2, 2), 0.99999934, dtype=dtype)),
])
def test_window_starts_equal_torchs_for_samples_where_rounding_matters(size, out, samples, dtype):
    u = samples(dtype)
    x = np.arange(u.shape[0] * u.shape[1] * size * size, dtype=dtype).reshape(*u.shape[:2], size, size)
    _, ours = fractional_max_pool2d(x, 3, out, u)  # x increases, so the argmax is each window's last position
    _, theirs = torch.nn.functional.fractional_max_pool2d(torch.from_numpy(x), 3, output_size=out,
                                                          _random_samples=torch.from_numpy(u), return_indices=True)
    np.testing.assert_array_equal(ours, theirs.numpy())
    assert (fractional_starts(u[..., 0], size, out[1], 3)[..., -1] == size - 3).all()


def test_samples_come_from_the_seeded_generator():
    x = _input((2, 3, 10, 10), np.float32)
    st.manual_seed(7)
    first = nn.FractionalMaxPool2d(2, output_size=4)(x)
    st.manual_seed(7)
    expected = st.get_generator().random((2, 3, 2), dtype=np.float32)
    st.manual_seed(7)
    layer = nn.FractionalMaxPool2d(2, output_size=4)
    np.testing.assert_array_equal(layer(x), first)
    np.testing.assert_array_equal(layer.last_samples, expected)
    layer(x)  # every forward draws fresh samples
    assert not np.array_equal(layer.last_samples, expected)


def test_given_random_samples_are_used_every_forward():
    samples = np.random.default_rng(0).random((1, 2, 2))
    layer = nn.FractionalMaxPool2d(2, output_size=3, _random_samples=samples)
    x = _input((1, 2, 7, 7), np.float64)
    np.testing.assert_array_equal(layer(x), layer(x))
    np.testing.assert_array_equal(layer.last_samples, samples)
    assert list(layer.state_dict()) == ["_random_samples"]  # a buffer, as in PyTorch


@pytest.mark.parametrize("layer", [
    lambda: nn.FractionalMaxPool2d(2, output_size=4), lambda: nn.FractionalMaxPool2d((3, 2), output_size=(3, 5)),
    lambda: nn.FractionalMaxPool2d(2, output_ratio=0.6),
])
def test_numerical_gradients(layer):
    check_numerical_gradients(layer(), _input((2, 2, 8, 7), np.float64, seed=2))


def test_no_grad_keeps_nothing():
    layer = nn.FractionalMaxPool2d(2, output_size=3)
    with st.no_grad():
        out = layer(_input((1, 2, 6, 6), np.float32))
    assert layer._saved is None and out.shape == (1, 2, 3, 3)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.ones_like(out))


def test_backward_before_forward_raises():
    with pytest.raises(RuntimeError, match="needs a forward"):
        nn.FractionalMaxPool2d(2, output_size=3).backward(np.ones((1, 1, 3, 3)))


@pytest.mark.parametrize("make, message", [
    (lambda: nn.FractionalMaxPool2d(2), "give exactly one of output_size and output_ratio"),
    (lambda: nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5), "give exactly one"),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=1.5), r"output_ratio must be .* in \(0, 1\), got 1.5"),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=(0.5, 0)), "output_ratio must be"),
    (lambda: nn.FractionalMaxPool2d((2, 2, 2), output_size=3), "kernel_size must be an int or a pair"),
])
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, shape, message", [
    (lambda: nn.FractionalMaxPool2d(2, output_size=3), (1, 6, 6), r"expected input of shape \(N, C, H, W\)"),
    (lambda: nn.FractionalMaxPool2d(3, output_size=5), (1, 1, 6, 9),
     "kernel height 3 is too large for output height 5: needs an input height >= output \\+ kernel - 1 = 7, got 6"),
    (lambda: nn.FractionalMaxPool2d(2, output_ratio=0.1), (1, 1, 6, 9), "output height must be >= 1, got 0"),
    (lambda: nn.FractionalMaxPool2d(2, output_size=2, _random_samples=np.zeros((1, 1, 2))), (2, 1, 6, 6),
     r"_random_samples must have shape \(2, 1, 2\)"),
])
def test_bad_input_raises(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(np.zeros(shape, np.float32))
