"""The 3x3 convolutions of the benchmark networks, one at a time: which they are, their FLOPs, a timed step.

``conv_layers()`` runs one forward of the seed-net and resnet-cifar cases and lists every 3x3 Conv2d
with the input shape it sees (layers of the same shape and settings are listed once, under all their
names). ``build_conv_step(library, layer)`` builds one such layer alone in strided or PyTorch and returns
a step: forward, then the input gradient and the weight (and bias) gradients, as in training.

The FLOPs are those of the direct algorithm, 2 * N * C_out * H_out * W_out * C_in/groups * K_h * K_w
(a multiply and an add per weight and output pixel), three times: the forward, the input gradient and
the weight gradient each cost that much. A faster algorithm (Winograd) does fewer, so its rate in these
units can exceed the machine's matrix-product rate; that is the point of quoting it so.

Like cases.py, this file imports nothing of strided.benchmark (the worker loads it by its path).
"""

import numpy as np

import strided as st

CONV_CASES = {"seed-net": (32, 1, 28, 28), "resnet-cifar": (32, 3, 32, 32)}  # case: its input batch's shape
KERNEL = (3, 3)


def _conv_input_shapes(model, x) -> dict:
    """Run one forward and record the input shape of every Conv2d in ``model``: {name: (module, shape)}."""
    shapes = {}
    convs = {name: m for name, m in model.named_modules() if isinstance(m, st.nn.Conv2d)}

    def recorder(name, module):
        forward = module.forward

        def recording(inp):
            shapes[name] = inp.shape
            return forward(inp)

        return recording

    for name, module in convs.items():
        object.__setattr__(module, "forward", recorder(name, module))  # an instance attribute hides the method
    try:
        model(x)
    finally:
        for module in convs.values():
            del module.forward  # back to the class's forward
    return {name: (convs[name], shape) for name, shape in shapes.items()}


def conv_layers(build_strided) -> list[dict]:
    """The distinct 3x3 convolutions of the CONV_CASES networks (``build_strided`` from cases.py), in order.

    Each is a plain dict (it travels to the worker processes as JSON): ``names`` (``case/module path``),
    ``shape`` (its input), ``in_channels``, ``out_channels``, ``stride``, ``padding``, ``bias``, ``flops``.
    """
    layers = {}
    for case, input_shape in CONV_CASES.items():
        model = build_strided(case).model
        for name, (module, shape) in _conv_input_shapes(model, np.zeros(input_shape, np.float32)).items():
            if tuple(module.kernel_size) != KERNEL or module.groups != 1:
                continue
            layer = {"shape": list(shape), "in_channels": module.in_channels, "out_channels": module.out_channels,
                     "stride": module.stride[0], "padding": module.padding[0], "bias": module.bias is not None}
            key = repr(sorted(layer.items()))
            layers.setdefault(key, {"names": [], **layer, "flops": conv_flops(layer)})["names"].append(
                f"{case}/{name}")
    return list(layers.values())


def _output_size(size: int, layer: dict) -> int:
    return (size + 2 * layer["padding"] - KERNEL[0]) // layer["stride"] + 1


def conv_flops(layer: dict) -> int:
    """Direct-algorithm FLOPs of one forward + input gradient + weight gradient (see the module's docstring)."""
    n, _, h, w = layer["shape"]
    outputs = n * layer["out_channels"] * _output_size(h, layer) * _output_size(w, layer)
    return 3 * 2 * outputs * layer["in_channels"] * KERNEL[0] * KERNEL[1]


def build_conv_step(library: str, layer: dict):
    """One step of ``layer`` alone in ``library`` ('strided' or 'torch'): forward, then every gradient."""
    rng = np.random.default_rng(0)
    n, _, h, w = layer["shape"]
    x = rng.standard_normal(layer["shape"]).astype(np.float32)
    grad = rng.standard_normal((n, layer["out_channels"], _output_size(h, layer), _output_size(w, layer)))
    grad = grad.astype(np.float32)
    settings = dict(stride=layer["stride"], padding=layer["padding"], bias=layer["bias"])
    if library == "strided":
        conv = st.nn.Conv2d(layer["in_channels"], layer["out_channels"], KERNEL, **settings)

        def step():
            conv.zero_grad()
            conv(x)
            conv.backward(grad)

        return step
    import torch

    conv = torch.nn.Conv2d(layer["in_channels"], layer["out_channels"], KERNEL, **settings)
    x_t, grad_t = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(grad)

    def step():
        conv.zero_grad()
        x_t.grad = None  # else each step adds into the last one's input gradient, a cost strided does not pay
        conv(x_t).backward(grad_t)

    return step
