"""Which input pixels a prediction rests on: saliency, Grad-CAM and occlusion, by strided's own backward.

- Saliency (Simonyan et al., 2014): the gradient of the class score (the logit, before softmax)
  with respect to the input, ``dS_c/dx``; the map is ``max over channels of |dS_c/dx|``.
- Grad-CAM (Selvaraju et al., 2017): for a layer's output A (K maps), ``a_k = mean over the map
  of dS_c/dA_k``, ``cam = relu(sum_k a_k A_k)``, upsampled bilinearly to the input size.
  ``dS_c/dA`` is what the layer's backward receives: the model's backward is run once and that
  gradient is read on its way through.
- Occlusion (Zeiler & Fergus, 2014): a square patch of zeros (in the normalised input: the
  training mean colour) hides each cell of a grid over the image in turn; each pixel's value is
  the mean drop of the class probability over the patches covering it (one, but where the last
  row or column of patches overlaps). Forward passes only, batched.
"""

import contextlib

import numpy as np

from ...grad_mode import enable_grad, no_grad


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@contextlib.contextmanager
def gradient_seen_by(module):
    """Record the gradient ``module.backward`` receives (dL/d its output) during a ``with`` block."""
    seen = []
    backward = module.backward

    def recording(grad_out):
        seen.append(np.array(grad_out))
        return backward(grad_out)

    object.__setattr__(module, "backward", recording)
    try:
        yield seen
    finally:
        del module.backward


def class_gradient(model, x: np.ndarray, target: int | None, layer=None) -> dict:
    """One forward and one backward of the class score; the input gradient (and the layer's).

    ``x`` is one input (C, H, W). Returns logits, the target class, dS/dx (C, H, W) and, with a
    ``layer`` module, that layer's output A and dS/dA (each (K, h, w)).
    """
    captured = {}
    if layer is not None:
        forward = layer.forward

        def recording(*args, **kwargs):
            out = forward(*args, **kwargs)
            captured["output"] = np.array(out[0])  # copied: an in-place ReLU may overwrite it later
            return out

        object.__setattr__(layer, "forward", recording)
    try:
        with enable_grad():
            logits = model(x[None].astype(_dtype(model), copy=False))
            target = int(np.argmax(logits[0])) if target is None else int(target)
            seed = np.zeros_like(logits)
            seed[0, target] = 1.0
            with gradient_seen_by(layer) if layer is not None else contextlib.nullcontext([]) as seen:
                grad_x = model.backward(seed)
    finally:
        if layer is not None:
            del layer.forward
        model.zero_grad()  # the parameters' gradients are a by-product: do not keep them on the served model
    result = {"logits": logits[0].astype(np.float64), "target": target, "grad_input": grad_x[0].astype(np.float64)}
    if layer is not None:
        result["layer_output"] = captured["output"].astype(np.float64)
        result["layer_grad"] = np.sum(seen, axis=0)[0].astype(np.float64)
    return result


def _dtype(model):
    return next(iter(model.parameters())).dtype


def saliency(model, x: np.ndarray, target: int | None = None) -> dict:
    found = class_gradient(model, x, target)
    return {"target": found["target"], "gradient": found["grad_input"],
            "saliency": np.abs(found["grad_input"]).max(axis=0)}


def bilinear_resize(maps: np.ndarray, size: tuple) -> np.ndarray:
    """(h, w) -> size, bilinear with half-pixel centres (PyTorch's align_corners=False)."""
    def axis(n_in, n_out):
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        low = np.floor(pos).astype(int)
        high = np.minimum(low + 1, n_in - 1)
        return low, high, pos - low

    (r0, r1, fr), (c0, c1, fc) = axis(maps.shape[0], size[0]), axis(maps.shape[1], size[1])
    top = maps[r0][:, c0] * (1 - fc) + maps[r0][:, c1] * fc
    bottom = maps[r1][:, c0] * (1 - fc) + maps[r1][:, c1] * fc
    return top * (1 - fr)[:, None] + bottom * fr[:, None]


def grad_cam(model, x: np.ndarray, layer, target: int | None = None) -> dict:
    found = class_gradient(model, x, target, layer)
    activations, grads = found["layer_output"], found["layer_grad"]
    if activations.ndim != 3:
        raise ValueError(f"Grad-CAM needs a layer with feature maps (K, h, w), got output shape {activations.shape}")
    weights = grads.mean(axis=(1, 2))  # a_k: how much the class score rises with map k, on average
    cam = np.maximum(np.tensordot(weights, activations, axes=1), 0.0)
    return {"target": found["target"], "weights": weights, "cam": cam,
            "heatmap": bilinear_resize(cam, x.shape[-2:])}


def occlusion_patch(height: int, width: int) -> tuple:
    """Patch side (about a seventh of the image, at least 2) and stride (the patch: a 7x7 grid or so).

    Overlapping patches (stride patch/2) draw a smoother map but cost 4x the forwards: 285 images
    instead of 72 for a 32x40 input, 24 s against 6 s for ResNet-20 on this shared 2-core machine."""
    patch = max(2, round(min(height, width) / 7))
    return patch, patch


def occlusion(model, x: np.ndarray, target: int | None = None, chunk: int = 64) -> dict:
    _, height, width = x.shape
    patch, stride = occlusion_patch(height, width)
    tops = np.unique(np.minimum(np.arange(0, height, stride), height - patch).clip(0))
    lefts = np.unique(np.minimum(np.arange(0, width, stride), width - patch).clip(0))
    rows = np.arange(height)
    cols = np.arange(width)
    # masks[p, i, j] is True where patch p covers pixel (i, j): built by broadcasting, no pixel loop
    covers_r = (rows[None, :] >= tops[:, None]) & (rows[None, :] < tops[:, None] + patch)
    covers_c = (cols[None, :] >= lefts[:, None]) & (cols[None, :] < lefts[:, None] + patch)
    masks = (covers_r[:, None, :, None] & covers_c[None, :, None, :]).reshape(-1, height, width)
    dtype = _dtype(model)
    with no_grad():
        base = softmax(model(x[None].astype(dtype)).astype(np.float64))[0]
        target = int(np.argmax(base)) if target is None else int(target)
        probs = []
        for start in range(0, len(masks), chunk):  # chunks of whole images bound the memory
            batch = np.where(masks[start:start + chunk, None], 0.0, x[None]).astype(dtype)
            probs.append(softmax(model(batch).astype(np.float64))[:, target])
    drop = base[target] - np.concatenate(probs)
    covered = masks.sum(axis=0)
    sensitivity = np.tensordot(drop, masks, axes=1) / np.maximum(covered, 1)
    return {"target": target, "patch": patch, "stride": stride, "occluded_count": int(len(masks)),
            "probability": float(base[target]), "sensitivity": sensitivity}
