"""clip_grad_norm_ against torch.nn.utils.clip_grad_norm_: the returned norm and the clipped gradients."""

import numpy as np
import pytest
import torch

from strided.nn import Parameter
from strided.train import clip_grad_norm_
from tests.helpers import TOLERANCE, assert_close

CASES = [(dtype, norm_type, max_norm, seed)
         for dtype in (np.float32, np.float64)
         for norm_type in (2.0, 1.0, 3.0, float("inf"))
         for max_norm, seed in ((0.1, 0), (1.0, 1), (1e3, 2))]


@pytest.mark.parametrize("dtype,norm_type,max_norm,seed", CASES)
def test_matches_torch(dtype, norm_type, max_norm, seed):
    rng = np.random.default_rng(seed)
    shapes = [(4, 3, 3, 3), (4,), (10, 36)]
    grads = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
    ours = []
    for g in grads:
        p = Parameter(np.zeros(g.shape, dtype))
        p.grad = g.copy()
        ours.append(p)
    theirs = [torch.zeros(g.shape, dtype=torch.float64 if dtype == np.float64 else torch.float32,
                          requires_grad=True) for g in grads]
    for t, g in zip(theirs, grads, strict=True):
        t.grad = torch.from_numpy(g.copy())
    total = clip_grad_norm_(ours, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    tol = TOLERANCE[np.dtype(dtype)]
    assert_close(total, total_t.item(), tol, "total norm")
    for p, t in zip(ours, theirs, strict=True):
        assert p.grad.dtype == dtype
        assert_close(p.grad, t.grad.numpy(), tol, "clipped gradient")
    clipped_norm = np.linalg.norm(np.concatenate([p.grad.ravel() for p in ours]).astype(np.float64), ord=norm_type)
    assert clipped_norm <= max_norm * (1 + 1e-5)


def test_skips_parameters_without_gradients_and_errors():
    p, q = Parameter(np.zeros(3)), Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0, 0.0])
    assert clip_grad_norm_([p, q], 1.0) == 5.0
    assert q.grad is None
    np.testing.assert_allclose(p.grad, [0.6, 0.8, 0.0], rtol=1e-6)
    assert clip_grad_norm_([q], 1.0) == 0.0
    p.grad = np.array([np.nan, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="norm_type must be >= 1"):
        clip_grad_norm_([p], 1.0, norm_type=0.5)
