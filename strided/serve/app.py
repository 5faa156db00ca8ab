"""The HTTP inference service: FastAPI routes over a Predictor and a MicroBatcher.

Every failure a client can cause is answered with a status code and a one-line JSON
``{"detail": ...}``, never a traceback: 400 undecodable image or missing field, 413 body too
large, 415 wrong content type, 422 JSON of the wrong shape or with non-finite numbers, 503 queue
full (with Retry-After) or not ready.
"""

import asyncio
import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..data.preprocess import DEFAULT_MAX_PIXELS, ImageDecodeError
from ..predictor import Predictor
from .batcher import BatcherStopped, MicroBatcher, QueueFull
from .limits import BodySizeLimit, BodyTooLarge
from .metrics import ServiceMetrics

log = logging.getLogger("strided.serve")
STATIC = Path(__file__).parent / "static"
MAX_INPUTS_PER_REQUEST = 256


class ClientError(Exception):
    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def create_app(model_path, max_batch_size: int = 32, max_wait_ms: float = 5.0, max_queue: int = 256,
               max_body_bytes: int = 10 * 1024 * 1024, max_pixels: int = DEFAULT_MAX_PIXELS) -> FastAPI:
    """Load the model once and build the app (the batcher starts here, stops at shutdown)."""
    metrics = ServiceMetrics()
    model = Predictor(model_path)
    metrics.model_load.set(model.load_seconds)
    lock = threading.Lock()  # the model's layers are not thread-safe: one forward at a time

    def predict_batch(batch):
        with lock:
            return model.predict_batch(batch)

    arriving = _Counter()  # /predict requests being read and decoded: while there are none, no batch waits
    batcher = MicroBatcher(predict_batch, max_batch_size, max_wait_ms, max_queue, on_batch=metrics.record_batch,
                           more_coming=lambda: arriving.count > 0)

    async def lifespan(app):
        yield
        await run_in_threadpool(batcher.stop)  # finish what is queued before the process exits

    app = FastAPI(title="strided inference service", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.model, app.state.batcher, app.state.metrics = model, batcher, metrics
    page = (STATIC / "index.html").read_text(encoding="utf-8")

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # a bug of ours: log it here, tell the client nothing internal
            log.exception("unhandled error on %s", request.url.path)
            metrics.errors.labels("internal").inc()
            response = JSONResponse({"detail": "internal server error"}, status_code=500)
        endpoint = request.url.path if request.url.path in KNOWN_PATHS else "other"
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(ClientError)
    async def client_error(request: Request, error: ClientError):
        metrics.errors.labels(f"http_{error.status}").inc()
        return JSONResponse({"detail": error.detail}, status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, error: RequestValidationError):
        # FastAPI's own 422 (e.g. ?top_k=abc) would answer a list; keep the one-line detail of every error.
        problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', 'invalid')}"
                             for e in error.errors())
        metrics.errors.labels("http_422").inc()
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, error: BodyTooLarge):
        metrics.errors.labels("http_413").inc()
        return JSONResponse({"detail": str(error)}, status_code=413)

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return page

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        # The model is loaded and a warm-up prediction ran in Predictor's constructor.
        return {"status": "ready", "model": model.name}

    @app.get("/v1/model")
    async def describe():
        return model.describe()

    @app.get("/metrics")
    async def prometheus():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.post("/predict")
    async def predict(request: Request, explain: int = 0, top_k: int = 5):
        with arriving:  # counted until its inputs are queued (or the request fails)
            inputs = await _read_inputs(request, model, max_pixels)
            if explain and len(inputs) != 1:
                raise ClientError(422, "explain=1 takes exactly one input")
            futures = [] if explain else _submit_all(batcher, inputs, metrics)
        if explain:
            def run_explain():
                with lock:
                    return model.explain(inputs[0])

            result = await run_in_threadpool(run_explain)
            rows = [result["probabilities"]]
        else:
            rows = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        body = {"predictions": [_prediction(row, model.class_names, top_k) for row in rows],
                "model": {"name": model.name, "version": model.version}}
        if explain:
            body["explain"] = {"layers": result["layers"], "filters": result["filters"]}
        return body

    KNOWN_PATHS = {route.path for route in app.routes}

    def refused_unread(path: str) -> None:  # a declared size over the limit is answered before the app runs
        metrics.requests.labels(path if path in KNOWN_PATHS else "other", "413").inc()
        metrics.errors.labels("http_413").inc()

    return BodySizeLimit(app, max_body_bytes, on_reject=refused_unread)


class _Counter:
    """How many requests are inside a ``with`` block (entered and left on the event loop only)."""

    def __init__(self):
        self.count = 0

    def __enter__(self):
        self.count += 1

    def __exit__(self, *exc_info):
        self.count -= 1


def _submit_all(batcher: MicroBatcher, inputs: list, metrics: ServiceMetrics) -> list:
    """Queue every input; if the queue refuses one, cancel those already queued and answer 503."""
    futures = []
    try:
        for x in inputs:
            futures.append(batcher.submit(x))
    except (QueueFull, BatcherStopped) as error:
        for future in futures:  # the part already queued is not computed for nothing
            future.cancel()
        if isinstance(error, BatcherStopped):
            raise ClientError(503, str(error), {"Retry-After": "5"}) from None
        metrics.errors.labels("queue_full").inc()
        raise ClientError(503, f"server busy: {error}", {"Retry-After": "1"}) from None
    return futures


def _prediction(probabilities: np.ndarray, class_names: list, top_k: int) -> dict:
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(top_k, len(class_names)))]
    top = [{"class": class_names[i], "index": int(i), "probability": float(probabilities[i])} for i in order]
    return {**top[0], "top_k": top}


async def _read_inputs(request: Request, model: Predictor, max_pixels: int) -> list:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form()
        except BodyTooLarge:
            raise
        except Exception as error:  # python-multipart's parse errors
            raise ClientError(400, f"malformed multipart body: {error}") from None
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise ClientError(400, "expected an image in the multipart field 'file'")
        data = await upload.read()
        name = upload.filename or "upload"
        try:
            return [await run_in_threadpool(model.preprocessing.decode, data, max_pixels, name)]
        except ImageDecodeError as error:
            raise ClientError(400, str(error)) from None
    if content_type == "application/json":
        return _json_inputs(await request.body(), model.input_shape)
    raise ClientError(415, f"expected multipart/form-data (an image in field 'file') or application/json, "
                           f"got {content_type or 'no content type'}")


def _json_inputs(body: bytes, input_shape: tuple) -> list:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ClientError(400, f"body is not valid JSON: {error}") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise ClientError(422, 'expected {"inputs": [array, ...]} with at least one array')
    if len(payload["inputs"]) > MAX_INPUTS_PER_REQUEST:
        raise ClientError(422, f"at most {MAX_INPUTS_PER_REQUEST} inputs per request, got {len(payload['inputs'])}")
    inputs = []
    for i, item in enumerate(payload["inputs"]):
        try:
            x = np.asarray(item, dtype=np.float64)
        except (ValueError, TypeError):
            raise ClientError(422, f"inputs[{i}] is not a rectangular array of numbers") from None
        if x.shape != tuple(input_shape):
            raise ClientError(422, f"inputs[{i}] has shape {list(x.shape)}, expected {list(input_shape)}")
        if not np.isfinite(x).all():
            raise ClientError(422, f"inputs[{i}] contains NaN or infinite values")
        inputs.append(x)
    return inputs


__all__ = ["create_app"]
