"""The two proofs every layer test uses: parity with PyTorch, and numerical gradients.

``check_torch_parity`` runs a strided module and a PyTorch module with the same weights on the
same input and compares the output, the input gradient and every parameter gradient.
``check_numerical_gradients`` compares a module's backward with central differences in float64,
so the proof does not rest on PyTorch alone.

Both measure the relative error max|a - b| / max|b| and fail above TOLERANCE[dtype].
"""

import numpy as np
import torch

import strided as st

TOLERANCE = {np.dtype(np.float64): 1e-9, np.dtype(np.float32): 1e-5}
TORCH_DTYPE = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def rel_error(ours, reference) -> float:
    """max|a - b| / max|b| (plain max|a - b| when the reference is all zeros)."""
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape, f"shape {ours.shape} != reference shape {reference.shape}"
    scale = np.max(np.abs(reference)) if reference.size else 0.0
    diff = np.max(np.abs(ours - reference)) if reference.size else 0.0
    return float(diff / scale) if scale > 0 else float(diff)


def assert_close(ours, reference, tol: float, what: str) -> float:
    err = rel_error(ours, reference)
    assert err <= tol, f"{what}: relative error {err:.3e} > {tol:.0e}"
    return err


def copy_weights_to_torch(ours: st.nn.Module, theirs: torch.nn.Module) -> None:
    """Load strided's state dict into the PyTorch module: the key names must be the same."""
    state = {k: torch.from_numpy(np.array(v)) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(state, strict=True)


def check_torch_parity(ours, theirs, x, grad_out=None, tol=None, seed=0, copy_weights=True) -> dict:
    """Compare forward, input gradient and every parameter gradient of ``ours`` and ``theirs``.

    ``x`` fixes the dtype (float32 or float64); ``theirs`` is converted to it and given ours'
    weights. ``grad_out`` defaults to a random array shaped like the output. Returns the
    relative errors measured, by name, so tests can report them.
    """
    dtype = np.dtype(x.dtype)
    tol = TOLERANCE[dtype] if tol is None else tol
    theirs = theirs.to(TORCH_DTYPE[dtype])
    if copy_weights:
        copy_weights_to_torch(ours, theirs)
    ours.train(theirs.training)

    out = ours(x)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    errors = {"output": assert_close(out, out_t.detach().numpy(), tol, "output")}
    assert out.dtype == dtype, f"output dtype {out.dtype}, expected {dtype}"

    if grad_out is None:
        grad_out = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    ours.zero_grad()
    grad_in = ours.backward(grad_out)
    out_t.backward(torch.from_numpy(grad_out))
    errors["grad_input"] = assert_close(grad_in, x_t.grad.numpy(), tol, "input gradient")
    assert grad_in.dtype == dtype, f"input gradient dtype {grad_in.dtype}, expected {dtype}"

    their_params = dict(theirs.named_parameters())
    our_params = dict(ours.named_parameters())
    assert sorted(our_params) == sorted(their_params), f"parameter names {sorted(our_params)} != {sorted(their_params)}"
    for name, param in our_params.items():
        reference = their_params[name].grad
        assert param.grad is not None, f"{name}: no gradient after backward"
        assert reference is not None, f"{name}: PyTorch computed no gradient"
        errors[f"grad_{name}"] = assert_close(param.grad, reference.numpy(), tol, f"gradient of {name}")
        assert param.grad.dtype == dtype, f"{name} gradient dtype {param.grad.dtype}, expected {dtype}"
    return errors


def _sample_indices(size: int, rng, max_checks: int) -> np.ndarray:
    return np.arange(size) if size <= max_checks else rng.choice(size, max_checks, replace=False)


def check_numerical_gradients(module, x, eps: float = 1e-6, tol: float = 1e-6, seed: int = 0,
                              max_checks: int = 60) -> float:
    """Central differences of L = sum(module(x) * g) against the module's backward, in float64.

    Checks the input gradient and every parameter's gradient at up to ``max_checks`` entries
    each. strided's generator is re-seeded before each forward so random layers (dropout,
    fractional pooling) draw the same mask every time. Returns the worst relative error.
    """
    assert x.dtype == np.float64, "numerical gradients need float64"
    module.to(np.float64)
    rng = np.random.default_rng(seed)

    def loss_at(inp):
        st.manual_seed(seed)
        return float(np.sum(module(inp) * g))

    st.manual_seed(seed)
    out = module(x)
    g = rng.standard_normal(out.shape)
    module.zero_grad()
    grad_in = module.backward(g)
    grad_in = grad_in[0] if isinstance(grad_in, tuple) else grad_in

    targets = [("input", x, grad_in)]
    targets += [(name, p.data, p.grad) for name, p in module.named_parameters()]
    worst = 0.0
    for name, values, analytic in targets:
        assert analytic is not None, f"{name}: no gradient after backward"
        flat = values.reshape(-1)  # a view: editing it perturbs the array the module reads
        assert np.shares_memory(flat, values), f"{name}: not contiguous, cannot perturb in place"
        indices = _sample_indices(flat.size, rng, max_checks)
        numeric = np.empty(len(indices))
        for k, i in enumerate(indices):
            original = flat[i]
            flat[i] = original + eps
            plus = loss_at(x)
            flat[i] = original - eps
            minus = loss_at(x)
            flat[i] = original
            numeric[k] = (plus - minus) / (2 * eps)
        err = assert_close(analytic.reshape(-1)[indices], numeric, tol, f"numerical gradient of {name}")
        worst = max(worst, err)
    return worst
