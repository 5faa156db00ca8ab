"""A real server process on 127.0.0.1: load, malformed uploads, and a graceful SIGTERM."""

import json
import os
import signal
import threading
import time

import httpx
import numpy as np
import pytest

from strided.serve.loadtest import LiveServer, run_load

from .conftest import metric_value, png_bytes

ARTIFACTS = os.environ.get("STRIDED_TEST_ARTIFACTS")


@pytest.fixture(scope="module")
def server(model_path):
    running = LiveServer(model_path, "--max-batch-size", "32", "--max-wait-ms", "5")
    yield running
    running.stop()


def test_load_thousands_of_requests_without_an_error(server, digit_png):
    payloads = [{"files": {"file": ("d.png", digit_png, "image/png")}},
                {"json": {"inputs": [np.zeros((1, 28, 28)).tolist()]}}]
    stats = run_load(server.url + "/predict", payloads, requests=2000, concurrency=16, time_limit=120)
    print("\nload test:", json.dumps(stats))
    if ARTIFACTS:
        with open(os.path.join(ARTIFACTS, "serve_load.json"), "w") as f:
            json.dump(stats, f, indent=2)
    assert stats["requests"] == 2000, stats
    assert stats["errors"] == 0, stats
    metrics = httpx.get(server.url + "/metrics").text
    inferences = metric_value(metrics, "strided_inferences_total")
    executions = metric_value(metrics, "strided_executions_total")
    assert inferences >= 2000 and executions <= inferences


def test_malformed_uploads_never_get_a_5xx(server, digit_png):
    rng = np.random.default_rng(0)
    jpeg = png_bytes(np.zeros((28, 28), np.uint8), "JPEG")
    # Every one of these is broken beyond decoding: each must be refused with a 4xx.
    bodies = [digit_png[:n] for n in (1, 8, 30, 60)]
    bodies += [jpeg[:n] for n in (2, 20, len(jpeg) // 2)]
    bodies += [rng.bytes(n) for n in (1, 100, 5000)] + [b""]
    bodies += [b"\x89PNG\r\n\x1a\n" + rng.bytes(200), b"GIF89a" + rng.bytes(50), b"BM" + rng.bytes(80)]
    statuses = []
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for body in bodies:
            statuses.append(http.post("/predict", files={"file": ("f.png", body)}).status_code)
            statuses.append(http.post("/predict", files={"wrong": ("f.png", body)}).status_code)
        # Missing only the end marker, the pixels are all there: decoding it is fine, failing is not.
        assert http.post("/predict", files={"file": ("f.png", digit_png[:-5])}).status_code < 500
        statuses.append(http.post("/predict", content=rng.bytes(500),
                                  headers={"content-type": "multipart/form-data; boundary=xyz"}).status_code)
        statuses.append(http.post("/predict", content=b"--xyz\r\n\r\n",
                                  headers={"content-type": "multipart/form-data"}).status_code)
        statuses.append(http.post("/predict", content=rng.bytes(100)).status_code)
        assert all(400 <= s < 500 for s in statuses), statuses
        assert http.get("/healthz").status_code == 200
        assert http.post("/predict", files={"file": ("d.png", digit_png)}).status_code == 200


def test_sigterm_lets_in_flight_requests_finish(model_path, digit_png):
    server = LiveServer(model_path, "--max-wait-ms", "3000", "--max-batch-size", "64")
    results = []

    def request():
        try:
            results.append(httpx.post(server.url + "/predict", files={"file": ("d.png", digit_png)},
                                      timeout=30).status_code)
        except httpx.HTTPError as error:
            results.append(type(error).__name__)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(1.5)  # the requests have arrived and wait in the batcher (max wait 3 s), even on a busy machine
    server.process.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    # uvicorn re-raises the signal once its graceful shutdown is done, so the exit status says SIGTERM.
    assert server.process.wait(30) in (0, -signal.SIGTERM)
    assert results == [200] * 6
