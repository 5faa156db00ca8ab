"""Hardtanh, ReLU6 and MobileNetV2's InvertedResidual: parity with PyTorch (and torchvision's block), numerical
gradients, the corners of the clip, errors."""

import numpy as np
import pytest
import torch

import strided as st
from tests.helpers import check_numerical_gradients, check_torch_parity
from tests.models.torchvision_twins import TorchInvertedResidual
from tests.nn.test_blocks import randomise_batch_norms

CLIPS = [("ReLU6", {}), ("Hardtanh", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0})]


@pytest.mark.parametrize("name,kwargs", CLIPS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (7, 3)])
def test_clips_match_torch(name, kwargs, dtype, shape):
    x = (np.random.default_rng(len(shape)).standard_normal(shape) * 5).astype(dtype)
    x.flat[:3] = [0.0, 6.0, -1.0]  # exactly on a corner: PyTorch passes no gradient there, nor do we
    check_torch_parity(getattr(st.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs), x)


@pytest.mark.parametrize("name,kwargs", CLIPS, ids=str)
def test_clips_numerical_gradients(name, kwargs):
    x = np.random.default_rng(3).standard_normal((2, 3, 4)) * 4
    x[np.abs(x) < 0.05] = 0.5  # central differences need a margin around the corners
    x[np.abs(x - 6) < 0.05] = 5.0
    check_numerical_gradients(getattr(st.nn, name)(**kwargs), x)


def test_hardtanh_rejects_an_empty_interval():
    with pytest.raises(ValueError, match="Hardtanh: min_val must be below max_val"):
        st.nn.Hardtanh(1.0, 1.0)


# (in, out, stride, expand_ratio, input shape): with and without the expansion, the shortcut and the stride
BLOCKS = [(4, 4, 1, 6, (2, 4, 7, 6)), (4, 6, 2, 6, (2, 4, 9, 8)), (8, 8, 1, 1, (2, 8, 5, 5)),
          (6, 3, 1, 2, (3, 6, 4, 4))]


@pytest.mark.parametrize("args", BLOCKS, ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("training", [True, False])
def test_inverted_residual_matches_torchvisions(args, dtype, training):
    *config, shape = args
    st.manual_seed(0)
    ours = randomise_batch_norms(st.nn.InvertedResidual(*config)).to(dtype)
    assert ours.use_res_connect == (config[2] == 1 and config[0] == config[1])
    theirs = TorchInvertedResidual(*config).train(training)
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    check_torch_parity(ours, theirs, x)


def test_inverted_residual_numerical_gradients():
    st.manual_seed(0)
    block = randomise_batch_norms(st.nn.InvertedResidual(3, 3, 1, 2)).eval()  # eval: a smooth function of x
    check_numerical_gradients(block, np.random.default_rng(2).standard_normal((2, 3, 5, 5)), max_checks=30)


def test_inverted_residual_rejects_other_strides():
    with pytest.raises(ValueError, match="InvertedResidual: stride should be 1 or 2, got 3"):
        st.nn.InvertedResidual(4, 4, 3, 6)
