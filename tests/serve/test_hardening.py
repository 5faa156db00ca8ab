"""The service's edges: bodies, hosts, stalls, disconnects, image formats, 16-bit PNGs, the decode bound, OpenAPI.

The HTTP edges run against a real `strided serve` on 127.0.0.1 (one server for the module, short
read timeout); the decoding and OpenAPI checks use the app in process.
"""

import asyncio
import io
import socket
import time

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from strided.serve.app import create_app
from strided.serve.limits import DecodeBudget

from .conftest import READ_TIMEOUT, metric_value, png_bytes


@pytest.fixture
def server(hardened_server):
    return hardened_server


@pytest.fixture(scope="module")
def client(model_path):
    with TestClient(create_app(model_path)) as test_client:
        yield test_client


def errors_of_kind(url: str, kind: str) -> float:
    text = httpx.get(url + "/metrics").text
    line = [row for row in text.splitlines() if row.startswith(f'strided_errors_total{{kind="{kind}"}}')]
    return float(line[0].split()[-1]) if line else 0.0


def test_chunked_bodies_over_the_limit_are_413(server):
    def chunks(first=b""):  # a generator: no Content-Length, so httpx sends it chunked
        yield first
        yield from (b" " * 2**20 for _ in range(3))

    json_answer = httpx.post(server.url + "/predict", content=chunks(), headers={"content-type": "application/json"})
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    multipart = httpx.post(server.url + "/predict", content=chunks(part),
                           headers={"content-type": "multipart/form-data; boundary=xyz"})
    for answer in (json_answer, multipart):
        assert answer.status_code == 413, answer.text
        assert "over the limit of 1048576 bytes" in answer.json()["detail"]
    assert errors_of_kind(server.url, "internal") == 0


@pytest.mark.parametrize("body, status, message", [
    (b'{"inputs": [' + b"1" * 400 + b"]}", 422, "too large for a float"),
    (b'{"inputs": [' + b"[" * 100_000 + b"]}", 400, "nested too deeply"),
    (b'{"inputs": [[[' + b",".join([b"1e300"] * 28) + b"]]]}", 422, "shape"),
])
def test_pathological_json_is_a_4xx(server, body, status, message):
    answer = httpx.post(server.url + "/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status and message in answer.json()["detail"], answer.text


def test_numbers_beyond_float32_are_refused(client):
    x = np.full((1, 28, 28), 1e300).tolist()
    answer = client.post("/predict", json={"inputs": [x]})
    assert answer.status_code == 422 and "float32" in answer.json()["detail"]


def raw_connection(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=READ_TIMEOUT * 4)
    return sock


def test_a_client_leaving_mid_body_is_not_an_internal_error(server):
    before = errors_of_kind(server.url, "client_disconnect")
    sock = raw_connection(server)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100000\r\n\r\n" + b"[" * 1000)
    time.sleep(0.3)
    sock.close()
    deadline = time.time() + 10
    while errors_of_kind(server.url, "client_disconnect") == before and time.time() < deadline:
        time.sleep(0.1)
    assert errors_of_kind(server.url, "client_disconnect") == before + 1
    assert errors_of_kind(server.url, "internal") == 0


def test_stalled_headers_and_bodies_are_cut_off(server):
    started = time.perf_counter()
    sock = raw_connection(server)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")  # then nothing
    assert sock.recv(1000) == b""  # closed by the server
    headers_closed = time.perf_counter() - started
    sock.close()

    started = time.perf_counter()
    sock = raw_connection(server)
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"inputs\"")
    answer = sock.recv(1000)
    body_refused = time.perf_counter() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert READ_TIMEOUT * 0.9 < headers_closed < READ_TIMEOUT + 3
    assert READ_TIMEOUT * 0.9 < body_refused < READ_TIMEOUT + 3


def test_only_loopback_host_names_are_served_on_loopback(server):
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/healthz", headers={"host": f"localhost:{server.port}"}).status_code == 200
    rebinding = httpx.get(server.url + "/v1/model", headers={"host": "evil.example"})
    assert rebinding.status_code == 400 and "evil.example" in rebinding.json()["detail"]


def test_the_service_is_healthy_after_the_edges(server, digit_png):
    assert httpx.post(server.url + "/predict", files={"file": ("d.png", digit_png)}).status_code == 200
    assert errors_of_kind(server.url, "internal") == 0
    assert metric_value(httpx.get(server.url + "/metrics").text, "strided_inferences_total") >= 1


def image_bytes(fmt: str, mode: str = "L") -> bytes:
    image = Image.fromarray(np.full((28, 28), 200, np.uint8)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, mode", [("TGA", "L"), ("PCX", "L"), ("SGI", "L"), ("ICO", "L"), ("QOI", "RGB")])
def test_formats_outside_the_allowlist_are_415(client, fmt, mode):
    answer = client.post("/predict", files={"file": (f"x.{fmt.lower()}", image_bytes(fmt, mode))})
    assert answer.status_code == 415, answer.text
    assert f"{fmt} images are not accepted" in answer.json()["detail"]


def test_tiff_is_accepted_and_random_bytes_stay_400(client):
    assert client.post("/predict", files={"file": ("x.tif", image_bytes("TIFF"))}).status_code == 200
    answer = client.post("/predict", files={"file": ("x.bin", b"\x00\x01not an image at all" * 10)})
    assert answer.status_code == 400 and "not an image" in answer.json()["detail"]


def test_16_bit_pngs_are_scaled_not_clamped(client, digit_png):
    digit = np.asarray(Image.open(io.BytesIO(digit_png)))
    grey = digit.copy()
    grey[20:24, 4:20] = 77  # a grey level, which clamping would also turn white
    sixteen = io.BytesIO()
    Image.fromarray(grey.astype(np.uint16) * 257).save(sixteen, format="PNG")  # k -> 257 k: the same levels
    assert Image.open(io.BytesIO(sixteen.getvalue())).mode == "I;16"
    eight = client.post("/predict?top_k=10", files={"file": ("8.png", png_bytes(grey))}).json()
    wide = client.post("/predict?top_k=10", files={"file": ("16.png", sixteen.getvalue())}).json()
    assert wide["predictions"] == eight["predictions"]


def test_the_pixel_budget_never_decodes_more_than_its_capacity():
    budget, peak = DecodeBudget(100), []

    async def decode(pixels):
        await budget.acquire(pixels)
        peak.append(budget.in_use)
        await asyncio.sleep(0.001)
        await budget.release(pixels)

    async def many():
        await asyncio.gather(*(decode(p) for p in [60, 60, 30, 100, 10, 90, 500] * 5))

    asyncio.run(many())
    assert max(peak) <= 100 and budget.in_use == 0 and len(peak) == 35


def test_openapi_describes_both_bodies_and_every_status(client):
    operation = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert {"200", "400", "408", "413", "415", "422", "503"} <= set(operation["responses"])


def test_fastapi_422_is_one_line_and_counted(client):
    answer = client.post("/predict?top_k=abc", json={"inputs": []})
    assert answer.status_code == 422 and isinstance(answer.json()["detail"], str)
    assert 'strided_errors_total{kind="http_422"}' in client.get("/metrics").text


def test_a_bug_of_ours_is_one_500_logged_and_counted(model_path, caplog):
    app = create_app(model_path)

    def broken():
        raise RuntimeError("a bug")

    app.state.model.describe = broken
    with TestClient(app) as test_client:
        answer = test_client.get("/v1/model")
        metrics = test_client.get("/metrics").text
    assert answer.status_code == 500 and answer.json() == {"detail": "internal server error"}
    assert 'strided_errors_total{kind="internal"} 1.0' in metrics
    assert 'strided_requests_total{endpoint="/v1/model",status="500"} 1.0' in metrics
    assert any("unhandled error on /v1/model" in r.getMessage() and r.exc_info for r in caplog.records)
