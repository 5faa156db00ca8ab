"""The explain views: attributions against PyTorch's autograd, receptive fields against strided's own
backward, the clicked value recomputed from its window, and the API around them."""

import base64

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient

import strided as st
from strided.predictor import Predictor
from strided.serve.app import create_app
from strided.serve.explain import attribution, explain
from strided.serve.explain.attribution import bilinear_resize, occlusion_patch
from strided.serve.explain.receptive_field import receptive_field
from strided.serve.explain.trace import Trace
from tests.helpers import assert_close, copy_weights_to_torch
from tests.nn.test_blocks import TorchBasicBlock, randomise_batch_norms
from tests.parity.test_model_parity import TORCH_MODELS, TorchResNet

from .conftest import CLASSES

nn = st.nn


def decode(encoded: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(encoded["data"]), dtype=np.dtype(encoded["dtype"]).newbyteorder("<"))
    return raw.reshape(encoded["shape"]).astype(np.float64)


def twins(name: str, in_channels: int, classes: int = 5):
    """A float64 strided model in eval mode (batch norms with non-trivial statistics) and its PyTorch twin."""
    st.manual_seed(3)
    if name == "resnet_cifar8":  # one block per stage: every kind of block, a third of ResNet-20's time
        ours = st.models.build_model("resnet_cifar", depth=8, num_classes=classes, in_channels=in_channels)
        theirs = TorchResNet(TorchBasicBlock, (1, 1, 1), classes, in_channels, cifar=True)
    else:
        ours = st.models.build_model(name, num_classes=classes, in_channels=in_channels)
        theirs = TORCH_MODELS[name](num_classes=classes, in_channels=in_channels)
    ours = randomise_batch_norms(ours).to(np.float64).eval()
    theirs = theirs.double().eval()
    copy_weights_to_torch(ours, theirs)
    return ours, theirs


CASES = [("seed_cnn", 1, (1, 28, 28), "relu2"), ("resnet_cifar8", 3, (3, 20, 24), "layer2.0")]


@pytest.mark.parametrize("name,channels,shape,layer", CASES)
def test_saliency_and_grad_cam_equal_pytorch_autograd(name, channels, shape, layer):
    ours, theirs = twins(name, channels)
    x = np.random.default_rng(1).standard_normal(shape)
    target = 2
    x_t = torch.tensor(x[None], requires_grad=True)
    seen = {}
    module = dict(theirs.named_modules())[layer]

    def keep(module, inputs, out):
        out.retain_grad()
        seen["A"] = out

    module.register_forward_hook(keep)
    theirs(x_t)[0, target].backward()
    found = attribution.saliency(ours, x, target)  # float64 here; the wire carries float32
    assert found["target"] == target
    assert_close(found["gradient"], x_t.grad[0].numpy(), 1e-9, "dS/dx")
    assert_close(found["saliency"], x_t.grad[0].abs().amax(0).numpy(), 1e-9, "saliency")
    wire = explain(ours, x, "saliency", target=target)["explain"]
    assert_close(decode(wire["saliency"]), found["saliency"], 1e-6, "saliency as sent")

    step = {name: module for name, module in ours.named_modules()}[layer]
    cam = attribution.grad_cam(ours, x, step, target)
    activations, grads = seen["A"][0].detach(), seen["A"].grad[0]
    weights = grads.mean(dim=(1, 2))
    expected = torch.relu((weights[:, None, None] * activations).sum(0))
    assert_close(cam["weights"], weights.numpy(), 1e-9, "Grad-CAM weights")
    assert_close(cam["cam"], expected.numpy(), 1e-9, "Grad-CAM map")
    upsampled = torch.nn.functional.interpolate(expected[None, None], size=shape[1:], mode="bilinear",
                                                align_corners=False)[0, 0]
    assert_close(cam["heatmap"], upsampled.numpy(), 1e-9, "Grad-CAM upsampled")
    wire = explain(ours, x, "gradcam", target=target, layer=layer)["explain"]
    assert wire["layer"] == layer
    assert_close(decode(wire["heatmap"]), cam["heatmap"], 1e-6, "Grad-CAM as sent")
    assert all(p.grad is None for p in ours.parameters()), "the served model must not keep parameter gradients"


def test_bilinear_resize_equals_pytorch_both_ways():
    maps = np.random.default_rng(0).standard_normal((5, 7))
    for size in [(20, 9), (3, 4), (5, 7)]:
        expected = torch.nn.functional.interpolate(torch.tensor(maps)[None, None], size=size, mode="bilinear",
                                                   align_corners=False)[0, 0].numpy()
        assert_close(bilinear_resize(maps, size), expected, 1e-12, f"bilinear to {size}")


def test_occlusion_equals_hiding_each_patch_by_hand():
    ours, _ = twins("seed_cnn", 1)
    x = np.random.default_rng(2).standard_normal((1, 22, 26))
    found = explain(ours, x, "occlusion", target=4)["explain"]
    patch, stride = occlusion_patch(22, 26)
    assert (found["patch"], found["stride"]) == (patch, stride)
    def probability(image):
        return _softmax(ours(image[None]))[0, 4]

    base = probability(x)
    total, covered = np.zeros((22, 26)), np.zeros((22, 26))
    tops = sorted({min(t, 22 - patch) for t in range(0, 22, stride)})
    lefts = sorted({min(t, 26 - patch) for t in range(0, 26, stride)})
    for top in tops:  # the reference: one image at a time
        for left in lefts:
            hidden = x.copy()
            hidden[:, top:top + patch, left:left + patch] = 0.0
            total[top:top + patch, left:left + patch] += base - probability(hidden)
            covered[top:top + patch, left:left + patch] += 1
    assert found["occluded_count"] == len(tops) * len(lefts)
    assert found["probability"] == pytest.approx(base, rel=1e-12)
    assert_close(decode(found["sensitivity"]), total / covered, 1e-6, "occlusion map")  # float32 on the wire


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _traced(model, x):
    with Trace(model) as trace:
        trace.mark_input(x)
        out = model(x)
    return trace.steps, out


def _gradient_box(model, x, steps, index, c, i, j):
    """The bounding box of the input pixels with a non-zero gradient of step ``index``'s value at (c, i, j)."""
    model.zero_grad()
    seen = {}
    target = steps[index].module
    forward = target.forward

    def swap(*args):  # replace the step's output gradient by a one-hot: d value / d input through backward
        out = forward(*args)
        seen["shape"] = out.shape
        return out

    object.__setattr__(target, "forward", swap)
    out = model(x)
    del target.forward
    backward = target.backward

    def one_hot(grad_out):
        g = np.zeros(seen["shape"])
        g[0, c, i, j] = 1.0
        return backward(g)

    object.__setattr__(target, "backward", one_hot)
    grad = model.backward(np.zeros_like(out))
    del target.backward
    rows, cols = np.nonzero(np.abs(grad[0]).sum(axis=0))
    return [rows.min(), rows.max(), cols.min(), cols.max()] if rows.size else None  # None: a dead ReLU


def _linear_graph():
    """A residual graph with no nonlinearity: every pixel of the box really reaches the output."""
    g = nn.Graph()
    g.add("conv1", nn.Conv2d(2, 4, 3, stride=2, padding=1))
    g.add("bn", nn.BatchNorm2d(4))
    g.add("conv2", nn.Conv2d(4, 4, (3, 1), padding=(2, 0), dilation=2))
    g.add("short", nn.Conv2d(2, 4, 1, stride=2), "x")
    g.add("sum", nn.Add(), ["conv2", "short"])
    g.add("pool", nn.AvgPool2d(3, stride=2, padding=1), "sum")
    g.add("conv3", nn.Conv2d(4, 3, 2, stride=3, padding="valid"))
    g.add("adapt", nn.AdaptiveAvgPool2d((2, 3)), "conv3")
    return g


@pytest.mark.parametrize("build,shape", [
    (lambda: nn.Sequential(nn.Conv2d(1, 3, 5, stride=2, padding=2), nn.AvgPool2d(2), nn.Conv2d(3, 2, 3, dilation=2)),
     (1, 1, 30, 27)),
    (_linear_graph, (1, 2, 29, 31)),
])
def test_receptive_field_is_where_the_gradient_reaches_in_linear_networks(build, shape):
    st.manual_seed(0)
    model = build().to(np.float64).eval()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    steps, _ = _traced(model, x)
    for step in steps:
        if step.output.ndim != 3:
            continue
        c, h, w = step.output.shape
        for i, j in {(0, 0), (h - 1, w - 1), (h // 2, w // 3)}:
            box = receptive_field(steps, step.index, i, j, shape[-2:])
            assert box == _gradient_box(model, x, steps, step.index, 0, i, j), f"{step.name} ({i}, {j})"


@pytest.mark.parametrize("name,kwargs,shape", [("resnet_cifar", {"depth": 8}, (3, 18, 22)),
                                               ("densenet_cifar", {}, (3, 12, 12))])
def test_receptive_field_contains_the_gradients_reach_in_blocks(name, kwargs, shape):
    st.manual_seed(0)
    model = st.models.build_model(name, num_classes=3, **kwargs).to(np.float64).eval()
    x = np.random.default_rng(0).standard_normal((1, *shape))
    steps, _ = _traced(model, x)
    maps = [s for s in steps if s.output.ndim == 3]
    checked = 0
    for step in maps[:: max(1, len(maps) // 7)]:  # about 7 steps: each check is a forward and a backward
        c, h, w = step.output.shape
        box = receptive_field(steps, step.index, h // 2, w // 2, shape[-2:])
        for channel in range(c):
            found = _gradient_box(model, x, steps, step.index, channel, h // 2, w // 2)
            if found is not None:
                break
        assert found is not None, f"{step.name}: no channel's value depends on the input"
        assert box[0] <= found[0] and found[1] <= box[1] and box[2] <= found[2] and found[3] <= box[3], step.name
        if checked == 0:  # the first convolution reads the image directly: its box is exactly its window
            assert box == found, step.name
        checked += 1
    assert checked >= 5


@pytest.mark.parametrize("layer", [
    nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), nn.Conv2d(3, 2, (2, 3), dilation=(2, 1), padding=(1, 2)),
    nn.Conv2d(3, 2, 3, padding=1, padding_mode="reflect"), nn.Conv2d(3, 2, 3, padding="same", dilation=2),
    nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(3, stride=2, padding=1),
    nn.AvgPool2d(2, padding=1, count_include_pad=False), nn.AdaptiveAvgPool2d((3, 4)), nn.AdaptiveMaxPool2d(2)])
def test_the_clicked_value_is_recomputed_from_its_window(layer):
    st.manual_seed(0)
    channels = getattr(layer, "in_channels", 3)
    model = nn.Sequential(nn.Conv2d(channels, channels, 1), layer).to(np.float64).eval()
    x = np.random.default_rng(0).standard_normal((channels, 9, 11))
    steps, _ = _traced(model, x[None])
    name = steps[-1].name
    c, h, w = steps[-1].output.shape
    for channel, row, col in [(0, 0, 0), (c - 1, h - 1, w - 1), (c // 2, h // 2, w // 2)]:
        found = explain(model, x, "window", layer=name, channel=channel, row=row, col=col)["explain"]
        assert found["result"] == pytest.approx(found["value"], rel=1e-12, abs=1e-12), (channel, row, col)


@pytest.fixture(scope="module")
def client(model_path):
    with TestClient(create_app(model_path)) as test_client:
        yield test_client


def test_explain_layers_sends_every_channel_on_one_symmetric_scale(client, model_path, digit_png):
    body = client.post("/predict", params={"explain": "layers"}, files={"file": ("one.png", digit_png)}).json()
    view = body["explain"]
    names = [layer["name"] for layer in view["layers"]]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "avgpool"]
    stages = {layer["name"]: layer.get("stage") for layer in view["layers"]}
    assert stages["conv1"] == "pre-activation" and stages["relu1"] == "post-activation"
    assert view["layers"][-1]["identity"] is True  # AdaptiveAvgPool2d(7) on 7x7
    docs = {layer["name"]: layer["docs"] for layer in view["layers"]}
    assert docs["conv1"] == ["convolution.md", "padding.md"]
    assert docs["conv2"] == ["convolution.md", "multichannel.md", "padding.md"]
    assert docs["pool1"] == ["pooling.md"] and docs["relu1"] == ["backprop.md"]
    predictor = Predictor(model_path)
    x = predictor.preprocessing.decode(digit_png)
    with st.no_grad(), st.nn.capture_outputs(predictor.model) as records:
        logits = predictor.model(x[None])
    outputs = {r.name: r.output[0] for r in records}
    for layer in view["layers"]:
        expected = outputs[layer["name"]]
        maps = layer["maps"]
        assert maps["shape"] == list(expected.shape)  # all channels, not the first 32
        assert maps["scale"] == pytest.approx(np.abs(expected).max(), rel=1e-6)
        assert np.abs(decode(maps) * maps["scale"] / 127 - expected).max() <= maps["scale"] / 254 * 1.0001
    assert_close(view["logits"]["values"], logits[0], 1e-6, "logits")
    assert sum(view["softmax"]) == pytest.approx(1.0)
    assert view["classes"] == CLASSES and view["input"]["shape"] == [28, 28, 3]


@pytest.mark.parametrize("params,message", [
    ({"explain": "window", "layer": "nope"}, "no layer with feature maps named 'nope'"),
    ({"explain": "window"}, "needs layer="),
    ({"explain": "window", "layer": "conv2", "row": 14}, "conv2 has 64 channels of 14x14"),
    ({"explain": "saliency", "target": 10}, "target must be a class index from 0 to 9"),
    ({"explain": "gradcam", "layer": "fc"}, "no layer with feature maps named 'fc'"),
    ({"explain": "everything"}, "explain"),
])
def test_explain_errors_are_one_line_422s(client, digit_png, params, message):
    response = client.post("/predict", params=params, files={"file": ("one.png", digit_png)})
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_explain_options_are_described_in_the_openapi(client):
    spec = client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in spec["paths"]["/predict"]["post"]["parameters"]}
    assert set(parameters) >= {"explain", "layer", "target", "channel", "row", "col", "top_k"}
    schema = parameters["explain"]["schema"]
    enum = schema.get("enum") or spec["components"]["schemas"][schema["$ref"].split("/")[-1]]["enum"]
    assert enum == ["0", "1", "layers", "window", "saliency", "gradcam", "occlusion"]
    assert "Grad-CAM" in parameters["explain"]["description"]


def test_the_page_and_its_scripts_are_served(client):
    page = client.get("/").text
    for asset in ("page.css", "colours.js", "playground.js", "clicked.js", "page.js"):
        assert f"/static/{asset}" in page
        assert client.get(f"/static/{asset}").status_code == 200


def test_a_huge_layer_sends_the_channels_that_fit(monkeypatch):
    from strided.serve.explain import layers

    monkeypatch.setattr(layers, "MAX_VALUES_PER_LAYER", 28 * 28 * 5)
    st.manual_seed(0)
    model = st.models.seed_cnn().eval()
    view = explain(model, np.zeros((1, 28, 28), np.float32), "layers")["explain"]
    conv1 = view["layers"][0]
    assert conv1["shape"] == [32, 28, 28] and conv1["maps"]["shape"] == [5, 28, 28]
    assert view["layers"][3]["maps"]["shape"] == [20, 14, 14]  # conv2: 14x14 maps, 20 fit


def test_a_clicked_batch_norm_or_relu_value_is_recomputed_from_the_value_it_read():
    ours, _ = twins("resnet_cifar8", 3)  # eval mode, batch norms with non-trivial statistics
    x = np.random.default_rng(0).standard_normal((3, 12, 14))
    for layer, formula in (("bn1", "gamma"), ("relu", "max"), ("layer2.0.bn2", "gamma")):
        found = explain(ours, x, "window", layer=layer, channel=3, row=4, col=5)["explain"]
        assert found["kind"] == "elementwise" and found["formula"].startswith(formula)
        assert found["result"] == pytest.approx(found["value"], rel=1e-12, abs=1e-12)
    relu = explain(ours, x, "window", layer="relu", channel=3, row=4, col=5)["explain"]
    bn = explain(ours, x, "window", layer="bn1", channel=3, row=4, col=5)["explain"]
    assert relu["reads"] == "bn1" and relu["input"] == bn["value"]  # before the in-place ReLU overwrote it
