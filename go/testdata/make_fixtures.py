"""Regenerate go/testdata/layers.safetensors: what strided computes, for the Go tests to equal.

    python go/testdata/make_fixtures.py

For every case it stores, in float64, the layer's architecture spec (the same JSON a model file
holds, so the Go tests also exercise the spec reader), its weights, an input, the output, and for
the layers Go trains, a random output gradient with the input and parameter gradients strided's
backward returns. SGD cases store parameters after three momentum steps. Resize cases store a
random image and what Pillow's convert + resize(BILINEAR) make of it (uint8). Deterministic: the
same strided gives the same tensors and metadata (the header's key order may vary).
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's strided

import safetensors.numpy  # noqa: E402

import strided as st  # noqa: E402
from strided.io.spec import module_to_spec  # noqa: E402

nn = st.nn
OUT = Path(__file__).with_name("layers.safetensors")
rng = np.random.default_rng(20)
tensors, cases = {}, []


def randomize_batchnorm(model):
    """Give every batch norm non-trivial statistics and affine parameters (a fresh one is the identity)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            c = module.num_features
            module.running_mean[...] = rng.normal(0, 0.5, c)
            module.running_var[...] = rng.uniform(0.5, 2.0, c)
            if module.weight is not None:
                module.weight.data[...] = rng.uniform(0.5, 1.5, c)
                module.bias.data[...] = rng.normal(0, 0.3, c)
    return model


def add_case(name, module, x_shape, backward=True):
    module = module.to(np.float64)
    randomize_batchnorm(module)
    for param in module.parameters():  # the default initialisations leave biases small: use all of [-1, 1]
        param.data[...] = rng.uniform(-1, 1, param.shape)
    module.eval() if not backward else module.train()
    x = rng.normal(size=x_shape)
    y = module(x)
    case = {"name": name, "spec": module_to_spec(module), "backward": backward}
    tensors[f"{name}/x"], tensors[f"{name}/y"] = x, y
    for key, value in module.state_dict().items():
        tensors[f"{name}/state/{key}"] = np.asarray(value, dtype=np.float64)
    if backward:
        module.zero_grad()
        g = rng.normal(size=y.shape)
        tensors[f"{name}/grad_y"], tensors[f"{name}/grad_x"] = g, module.backward(g)
        for key, param in module.named_parameters():
            tensors[f"{name}/grad/{key}"] = param.grad
    cases.append(case)


# Layers Go trains: forward and backward.
add_case("conv_basic", nn.Conv2d(3, 4, 3, padding=1), (2, 3, 7, 6))
add_case("conv_stride_pad_dilation", nn.Conv2d(2, 3, 3, stride=2, padding=2, dilation=2), (2, 2, 9, 8))
add_case("conv_groups_rect", nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), groups=2), (2, 4, 7, 5))
add_case("conv_depthwise_nobias", nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False), (1, 3, 5, 5))
add_case("conv_same_even_kernel", nn.Conv2d(2, 2, 4, padding="same"), (1, 2, 6, 7))
add_case("maxpool_2", nn.MaxPool2d(2), (2, 3, 6, 7))
add_case("maxpool_3s2p1", nn.MaxPool2d(3, stride=2, padding=1), (1, 2, 7, 8))
add_case("maxpool_dilation_ceil", nn.MaxPool2d(3, stride=2, dilation=2, ceil_mode=True), (1, 2, 10, 9))
add_case("maxpool_rect", nn.MaxPool2d((2, 3), stride=(1, 2)), (1, 2, 5, 7))
add_case("avgpool_2", nn.AvgPool2d(2), (2, 3, 6, 7))
add_case("avgpool_exclude_pad", nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False), (1, 2, 7, 8))
add_case("avgpool_ceil", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (1, 2, 8, 8))
add_case("avgpool_divisor", nn.AvgPool2d(2, divisor_override=3), (1, 2, 4, 6))
add_case("adaptive_avgpool_7", nn.AdaptiveAvgPool2d(7), (2, 2, 13, 10))
add_case("adaptive_avgpool_3_none", nn.AdaptiveAvgPool2d((3, None)), (1, 2, 8, 5))
add_case("global_avgpool", nn.GlobalAvgPool2d(), (2, 3, 4, 5))
add_case("relu", nn.ReLU(), (2, 3, 4, 5))
add_case("tanh", nn.Tanh(), (2, 3, 4, 5))
add_case("linear", nn.Linear(12, 5), (4, 12))
add_case("flatten", nn.Flatten(), (2, 3, 4, 5))

# Inference-only layers: forward in eval mode.
add_case("batchnorm2d", nn.BatchNorm2d(3), (2, 3, 4, 5), backward=False)
add_case("dropout", nn.Dropout(0.3), (2, 3, 4, 5), backward=False)
add_case("residual_identity", nn.ResidualBlock(4, 4), (2, 4, 6, 6), backward=False)
add_case("residual_projection", nn.ResidualBlock(4, 6, stride=2), (2, 4, 7, 7), backward=False)
add_case("bottleneck_projection", nn.Bottleneck(4, 2, stride=2), (1, 4, 7, 6), backward=False)
add_case("bottleneck_identity", nn.Bottleneck(8, 2), (1, 8, 5, 5), backward=False)
add_case("dense_block", nn.DenseBlock(4, 3, 3, bn_size=2), (2, 4, 5, 5), backward=False)
add_case("transition", nn.Transition(6, 3), (2, 6, 5, 6), backward=False)
add_case("resnet_tiny_bottleneck", nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Bottleneck(8, 2),
                                                 nn.AdaptiveAvgPool2d(1), nn.Flatten()), (1, 3, 6, 6),
         backward=False)
add_case("densenet_cifar_small", st.models.densenet_cifar(num_classes=4, growth_rate=4, block_config=(2, 2)),
         (2, 3, 8, 8), backward=False)

# A graph with a fan-out, Add and Concat: the gradient of x is the sum over its readers.
graph = nn.Graph(inputs=("x",))
graph.add("conv1", nn.Conv2d(2, 2, 3, padding=1), "x")
graph.add("relu1", nn.ReLU(), "conv1")
graph.add("sum", nn.Add(), ["relu1", "x"])
graph.add("cat", nn.Concat(), ["sum", "x"])
graph.add("pool", nn.MaxPool2d(2), "cat")
add_case("graph_add_concat", graph, (2, 2, 6, 6))

# Softmax cross-entropy: logits, labels, the mean loss and dL/dlogits.
logits = rng.normal(scale=3, size=(5, 7))
labels = rng.integers(0, 7, size=5)
loss = nn.CrossEntropyLoss()
tensors["cross_entropy/logits"], tensors["cross_entropy/labels"] = logits, labels.astype(np.float64)
tensors["cross_entropy/loss"] = np.array(loss(logits, labels), dtype=np.float64)
tensors["cross_entropy/grad"] = loss.backward()

# SGD with momentum and weight decay: three steps with fixed gradients.
param = nn.Parameter(rng.normal(size=(3, 4)))
optimizer = st.optim.SGD([param], lr=0.1, momentum=0.9, weight_decay=0.01)
tensors["sgd/initial"] = param.data.copy()
for step in range(3):
    param.grad = rng.normal(size=(3, 4))
    tensors[f"sgd/grad{step}"] = param.grad.copy()
    optimizer.step()
tensors["sgd/final"] = param.data.copy()

# Resize: Pillow's convert(mode) + resize(BILINEAR) on random images (down, up, mixed, same size).
resizes = []
for i, (mode, src, dst) in enumerate([("L", (37, 23), (16, 16)), ("L", (9, 7), (28, 28)), ("RGB", (50, 45), (32, 32)),
                                      ("RGB", (20, 24), (32, 32)), ("L", (64, 13), (28, 28)), ("L", (28, 28), (28, 28)),
                                      ("RGB", (101, 3), (7, 40))]):
    rgb = rng.integers(0, 256, size=(src[1], src[0], 3), dtype=np.uint8)
    image = Image.fromarray(rgb, "RGB").convert(mode).resize(dst, Image.Resampling.BILINEAR)
    tensors[f"resize{i}/rgb"] = rgb
    tensors[f"resize{i}/out"] = np.ascontiguousarray(np.asarray(image, np.uint8))
    resizes.append({"name": f"resize{i}", "mode": mode, "size": [dst[1], dst[0]]})

# JPEG: a few small files (the bytes) and what Pillow (libjpeg) decodes them to, in RGB.
import io  # noqa: E402

jpegs = []
for i, (size, subsampling, mode) in enumerate([((33, 21), 2, "RGB"), ((17, 30), 1, "RGB"), ((24, 16), 0, "RGB"),
                                                ((20, 20), 2, "L")]):
    smooth = Image.fromarray(rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)).resize(size, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    smooth.convert(mode).save(buffer, "JPEG", quality=90, subsampling=subsampling)
    tensors[f"jpeg{i}/file"] = np.frombuffer(buffer.getvalue(), np.uint8)
    tensors[f"jpeg{i}/rgb"] = np.asarray(Image.open(buffer).convert("RGB"), np.uint8)
    jpegs.append(f"jpeg{i}")

# Architectures too big to store with weights: their spec, and the names and shapes of their
# state (what a model file of them holds), for Go's builders to reproduce key for key.
architectures = []
for name, kwargs in [("seed_cnn", {}), ("lenet5", {"num_classes": 7}), ("resnet18", {}), ("resnet34", {}),
                     ("resnet50", {}), ("resnet", {"depth": 18, "num_classes": 5, "in_channels": 1}),
                     ("resnet_cifar20", {}), ("resnet_cifar56", {"num_classes": 100}), ("densenet121", {}),
                     ("densenet", {"block_config": [2, 3], "growth_rate": 8, "num_init_features": 16, "bn_size": 2}),
                     ("densenet_cifar", {})]:
    model = st.models.build_model(name, **kwargs)
    state = [[key, list(np.shape(value))] for key, value in model.state_dict().items()]
    architectures.append({"spec": module_to_spec(model), "state": state})

header = {"cases": json.dumps(cases), "resizes": json.dumps(resizes), "architectures": json.dumps(architectures),
          "jpegs": json.dumps(jpegs),
          "strided.version": st.__version__}
# np.require keeps 0-d buffers (num_batches_tracked) 0-d, as strided.io.save does.
OUT.write_bytes(safetensors.numpy.save({k: np.require(v, requirements="C") for k, v in tensors.items()},
                                       metadata=header))
print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, {len(cases)} layer cases, {len(resizes)} resize cases)")
