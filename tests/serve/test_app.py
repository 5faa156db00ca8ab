"""The service's API: every endpoint, every error code, and batching that changes no answer."""

import asyncio
import base64
import json
import re
import struct
import time
import zlib

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from strided.predictor import Predictor
from strided.serve.app import create_app

from .conftest import CLASSES, metric_value, png_bytes


@pytest.fixture(scope="module")
def client(model_path):
    with TestClient(create_app(model_path, max_body_bytes=200_000)) as test_client:
        yield test_client


def test_health_ready_and_model_description(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    info = client.get("/v1/model").json()
    assert info["classes"] == CLASSES and info["input_shape"] == [1, 28, 28]
    assert info["name"] == "digits" and info["parameters"] > 0 and info["metrics"] == {"val_accuracy": 0.5}
    assert len(info["version"]) == 12


def test_predict_an_uploaded_image_matches_the_predictor(client, model_path, digit_png):
    response = client.post("/predict", files={"file": ("one.png", digit_png, "image/png")}, params={"top_k": 3})
    assert response.status_code == 200
    body = response.json()
    prediction = body["predictions"][0]
    predictor = Predictor(model_path)
    expected = predictor.predict_batch(predictor.preprocessing.decode(digit_png)[None])[0]
    assert prediction["index"] == int(np.argmax(expected))
    assert prediction["class"] == CLASSES[prediction["index"]]
    assert prediction["probability"] == pytest.approx(float(expected.max()), rel=1e-6)
    assert [t["probability"] for t in prediction["top_k"]] == sorted((float(p) for p in expected), reverse=True)[:3]
    assert body["model"]["name"] == "digits"


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "GIF", "WEBP"])
def test_every_supported_format_decodes(client, fmt):
    image = (np.arange(28 * 28).reshape(28, 28) % 255).astype(np.uint8)
    response = client.post("/predict", files={"file": (f"x.{fmt.lower()}", png_bytes(image, fmt))})
    assert response.status_code == 200, response.text


def test_colour_uploads_are_converted_to_the_models_mode(client):
    colour = np.zeros((40, 30, 3), np.uint8)
    colour[..., 0] = 200
    assert client.post("/predict", files={"file": ("c.png", png_bytes(colour))}).status_code == 200


def test_json_inputs_equal_single_predictions(client, model_path):
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((3, 1, 28, 28))
    body = client.post("/predict", json={"inputs": inputs.tolist()}).json()
    predictor = Predictor(model_path)
    for x, prediction in zip(inputs, body["predictions"], strict=True):
        single = predictor.predict_batch(x[None].astype(np.float32))[0]
        assert prediction["index"] == int(np.argmax(single))
        assert prediction["probability"] == pytest.approx(float(single.max()), rel=1e-5)


def test_explain_returns_each_layers_maps_and_the_filters(client, digit_png):
    body = client.post("/predict", params={"explain": 1}, files={"file": ("one.png", digit_png)}).json()
    layers = body["explain"]["layers"]
    assert [layer["type"] for layer in layers][:4] == ["Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d"]
    first = layers[0]
    assert first["shape"] == [32, 28, 28] and first["params"] == 32 * 9 + 32
    maps = np.frombuffer(base64.b64decode(first["maps"]["data"]), np.uint8).reshape(first["maps"]["shape"])
    assert maps.shape == (32, 28, 28) and maps.max() == 255
    assert body["explain"]["filters"]["shape"] == [32, 1, 3, 3]


def test_the_web_page_is_served(client):
    page = client.get("/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "https://" not in page.text and "http://" not in page.text  # nothing fetched from outside


def test_metrics_are_prometheus_text(client, digit_png):
    client.post("/predict", files={"file": ("one.png", digit_png)})
    text = client.get("/metrics").text
    for name in ("strided_requests_total", "strided_request_latency_seconds_bucket", "strided_queue_time_seconds",
                 "strided_batch_size_bucket", "strided_inferences_total", "strided_executions_total",
                 "strided_model_load_seconds", "strided_errors_total"):
        assert name in text
    assert 'strided_requests_total{endpoint="/predict",status="200"}' in text


def _png_header_only(width, height):
    """A PNG whose header claims width x height but carries almost no data: a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@pytest.mark.parametrize("payload, status, message", [
    ({"files": {"file": ("x.png", b"not an image at all")}}, 400, "not an image"),
    ({"files": {"file": ("x.png", b"")}}, 400, "empty file"),
    ({"files": {"image": ("x.png", b"abc")}}, 400, "multipart field 'file'"),
    ({"files": {"file": ("bomb.png", _png_header_only(100_000, 100_000))}}, 400, "more than the limit"),
    ({"content": b"hello", "headers": {"content-type": "text/plain"}}, 415, "expected multipart/form-data"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "not valid JSON"),
    ({"json": {"inputs": [[[1.0, 2.0]]]}}, 422, "has shape \\[1, 2\\], expected \\[1, 28, 28\\]"),
    ({"json": {"inputs": [[[0.0] * 28] * 27 + [[0.0] * 27]]}}, 422, "not a rectangular array"),
    ({"json": {"pixels": []}}, 422, "expected \\{\"inputs\""),
    ({"content": json.dumps({"inputs": [[[[float("nan")] * 28] * 28]]}).encode(),
      "headers": {"content-type": "application/json"}}, 422, "NaN or infinite"),
    ({"files": {"file": ("big.png", bytes(300_000))}}, 413, "over the limit"),
])
def test_bad_requests_get_a_clear_status_and_no_traceback(client, payload, status, message):
    response = client.post("/predict", **payload)
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert "Traceback" not in detail
    assert re.search(message, detail), detail


def test_bad_query_parameters_get_one_line_and_are_counted(client, digit_png):
    before = client.get("/metrics").text
    response = client.post("/predict?top_k=abc", files={"file": ("one.png", digit_png)})
    assert response.status_code == 422
    assert re.fullmatch(r"query\.top_k: .*integer.*", response.json()["detail"]), response.json()
    assert _errors(client.get("/metrics").text, "http_422") == _errors(before, "http_422") + 1


def test_a_body_refused_by_its_declared_size_is_counted(client):
    before = client.get("/metrics").text
    response = client.post("/predict", content=bytes(300_000), headers={"content-type": "application/json"})
    assert response.status_code == 413
    after = client.get("/metrics").text
    assert _errors(after, "http_413") == _errors(before, "http_413") + 1
    counted = 'strided_requests_total{endpoint="/predict",status="413"}'
    assert _sample(after, counted) == _sample(before, counted) + 1


def _sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _errors(text: str, kind: str) -> float:
    return _sample(text, f'strided_errors_total{{kind="{kind}"}}')


def test_a_truncated_png_is_a_400(client, digit_png):
    response = client.post("/predict", files={"file": ("cut.png", digit_png[: len(digit_png) // 2])})
    assert response.status_code == 400 and "truncated" in response.json()["detail"]


def test_a_full_queue_answers_503_with_retry_after(model_path, monkeypatch):
    app = create_app(model_path, max_queue=1)
    from strided.serve.batcher import QueueFull

    def refuse(x):
        raise QueueFull("more than 1 inputs are waiting")

    monkeypatch.setattr(app.state.batcher, "submit", refuse)
    with TestClient(app) as test_client:
        response = test_client.post("/predict", json={"inputs": [np.zeros((1, 28, 28)).tolist()]})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"


def test_a_request_refused_half_queued_leaves_nothing_queued(model_path, monkeypatch):
    app = create_app(model_path, max_wait_ms=1000)  # the worker waits for more inputs while the refusal happens
    from strided.serve.batcher import QueueFull

    submitted, real_submit = [], app.state.batcher.submit

    def room_for_two(x):
        if len(submitted) == 2:
            raise QueueFull("more than 2 inputs are waiting")
        submitted.append(real_submit(x))
        return submitted[-1]

    monkeypatch.setattr(app.state.batcher, "submit", room_for_two)
    with TestClient(app) as test_client:
        response = test_client.post("/predict", json={"inputs": [np.zeros((1, 28, 28)).tolist()] * 3})
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert len(submitted) == 2 and all(f.cancelled() for f in submitted)  # so the worker never computes them


def test_a_lone_request_does_not_wait_for_company(model_path, digit_png):
    with TestClient(create_app(model_path, max_wait_ms=60_000)) as test_client:
        started = time.perf_counter()
        response = test_client.post("/predict", files={"file": ("one.png", digit_png)})
        elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed < 30, f"{elapsed:.1f} s: the request waited for company although none was coming"


def test_concurrent_requests_form_batches_and_change_no_answer(model_path):
    app = create_app(model_path, max_batch_size=16, max_wait_ms=30)
    rng = np.random.default_rng(1)
    inputs = rng.standard_normal((24, 1, 28, 28))

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            responses = await asyncio.gather(*(http.post("/predict", json={"inputs": [x.tolist()]}) for x in inputs))
            metrics = (await http.get("/metrics")).text
        return responses, metrics

    responses, metrics = asyncio.run(burst())
    app.state.batcher.stop()
    predictor = Predictor(model_path)
    singles = predictor.predict_batch(inputs.astype(np.float32))
    for response, single in zip(responses, singles, strict=True):
        prediction = response.json()["predictions"][0]
        assert prediction["index"] == int(np.argmax(single))
        assert prediction["probability"] == pytest.approx(float(single.max()), rel=1e-5)
    executions = metric_value(metrics, "strided_executions_total")
    assert executions < len(inputs), "24 simultaneous requests should have shared batches"
