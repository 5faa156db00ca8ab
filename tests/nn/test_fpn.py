"""FeaturePyramidNetwork and LastLevelMaxPool against torchvision.ops.FeaturePyramidNetwork's code (written out in
tests/models/torchvision_twins.py): state_dict keys, every output, every input and parameter gradient, for all
outputs or a subset; numerical gradients; errors; model files."""

from collections import OrderedDict

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import TOLERANCE, assert_close, check_numerical_gradients, copy_weights_to_torch
from tests.models.torchvision_twins import TorchFeaturePyramidNetwork, TorchLastLevelMaxPool

# (in_channels_list, out_channels, map sides finest first): sizes that halve exactly, and odd ones where the
# nearest upsampling repeats some pixels once and others twice (PyTorch's floor(i * in / out) rule)
CASES = [([3, 5, 7], 4, [(16, 16), (8, 8), (4, 4)]), ([2, 6], 3, [(15, 13), (8, 7)]),
         ([4, 4, 2, 3], 5, [(9, 11), (5, 6), (3, 3), (1, 2)]), ([6], 2, [(5, 5)])]


def _pair(channels, out, extra, dtype):
    st.manual_seed(0)
    ours = st.nn.FeaturePyramidNetwork(channels, out, st.nn.LastLevelMaxPool() if extra else None).to(dtype)
    theirs = TorchFeaturePyramidNetwork(channels, out, TorchLastLevelMaxPool() if extra else None)
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_weights_to_torch(ours, theirs)
    return ours, theirs


def _maps(channels, sides, dtype, seed=1):
    rng = np.random.default_rng(seed)
    return OrderedDict((f"feat{i}", rng.standard_normal((2, c, *side)).astype(dtype))
                       for i, (c, side) in enumerate(zip(channels, sides, strict=True)))


@pytest.mark.parametrize("channels,out,sides", CASES, ids=str)
@pytest.mark.parametrize("extra", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("subset", [False, True])
def test_matches_torchvisions_fpn(channels, out, sides, extra, dtype, subset):
    tol = TOLERANCE[np.dtype(dtype)]
    ours, theirs = _pair(channels, out, extra, dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    maps = _maps(channels, sides, dtype)
    maps_t = OrderedDict((k, torch.tensor(v, requires_grad=True)) for k, v in maps.items())
    outs, outs_t = ours(maps), theirs(maps_t)
    assert list(outs) == list(outs_t) == list(maps) + (["pool"] if extra else [])
    for name in outs:
        assert outs[name].dtype == dtype
        assert_close(outs[name], outs_t[name].detach().numpy(), tol, f"output {name}")

    rng = np.random.default_rng(2)
    names = list(outs)[-1:] + list(outs)[:1] if subset else list(outs)  # a subset: the coarsest and the finest
    grads = {name: rng.standard_normal(outs[name].shape).astype(dtype) for name in names}
    ours.zero_grad()
    grads_in = ours.backward(grads)
    sum(torch.sum(outs_t[name] * torch.from_numpy(g)) for name, g in grads.items()).backward()
    assert list(grads_in) == list(maps)
    for name, grad in grads_in.items():
        assert_close(grad, maps_t[name].grad.numpy(), tol, f"gradient of map {name}")
    theirs_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        reference = theirs_params[name].grad
        if reference is None:  # a level no given gradient reaches (torch leaves .grad None; ours too)
            assert param.grad is None, name
        else:
            assert_close(param.grad, reference.numpy(), tol, f"gradient of {name}")


class _OnePyramid(st.nn.Module):
    """An array in, the FPN's outputs flattened into one array out: ``x`` and every other pixel of it feed
    two levels, so the numerical check reaches every gradient path of the FPN."""

    def __init__(self, fpn):
        super().__init__()
        self.fpn = fpn

    def forward(self, x):
        outs = self.fpn({"fine": x, "coarse": np.ascontiguousarray(x[:, :, ::2, ::2])})
        self.shapes = [o.shape for o in outs.values()]
        return np.concatenate([o.reshape(len(x), -1) for o in outs.values()], axis=1)

    def backward(self, grad_out):
        sizes = np.cumsum([0] + [int(np.prod(s[1:])) for s in self.shapes])
        grads = {name: grad_out[:, a:b].reshape(shape) for name, a, b, shape in
                 zip(["fine", "coarse", "pool"], sizes[:-1], sizes[1:], self.shapes, strict=False)}
        grads_in = self.fpn.backward(grads)
        dx = grads_in["fine"].copy()
        dx[:, :, ::2, ::2] += grads_in["coarse"]
        return dx


def test_numerical_gradients():
    st.manual_seed(0)
    model = _OnePyramid(st.nn.FeaturePyramidNetwork([3, 3], 2, st.nn.LastLevelMaxPool()))
    check_numerical_gradients(model, np.random.default_rng(0).standard_normal((2, 3, 7, 5)))


def test_errors():
    fpn = st.nn.FeaturePyramidNetwork([3, 5], 4)
    with pytest.raises(ValueError, match=r"expected a dict of 2 feature maps, finest first, got 1 maps"):
        fpn({"a": np.zeros((1, 3, 4, 4), np.float32)})
    with pytest.raises(ValueError, match=r"map 'b': Conv2d\(5 -> 4.*expected input of shape \(N, 5, H, W\)"):
        fpn({"a": np.zeros((1, 3, 4, 4), np.float32), "b": np.zeros((1, 4, 2, 2), np.float32)})
    with pytest.raises(ValueError, match="in_channels_list must be a non-empty list"):
        st.nn.FeaturePyramidNetwork([], 4)
    with pytest.raises(TypeError, match="extra_blocks must be None or LastLevelMaxPool"):
        st.nn.FeaturePyramidNetwork([3], 4, st.nn.ReLU())
    fpn({"a": np.zeros((1, 3, 4, 4), np.float32), "b": np.zeros((1, 5, 2, 2), np.float32)})
    with pytest.raises(ValueError, match=r"backward expected a dict of gradients with keys among \['a', 'b'\]"):
        fpn.backward({"pool": np.zeros((1, 4, 1, 1), np.float32)})


def test_model_file_round_trip(tmp_path):
    st.manual_seed(0)
    fpn = st.nn.FeaturePyramidNetwork([3, 5], 4, st.nn.LastLevelMaxPool())
    maps = _maps([3, 5], [(6, 6), (3, 3)], np.float32)
    loaded = st.load(st.save(fpn, tmp_path / "fpn.safetensors"))
    for name, value in fpn(maps).items():
        np.testing.assert_array_equal(loaded(maps)[name], value)
