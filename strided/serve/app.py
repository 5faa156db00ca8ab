"""The HTTP inference service: FastAPI routes over a Predictor and a MicroBatcher.

Every failure a client can cause is answered with a status code and a one-line JSON
``{"detail": ...}``, never a traceback: 400 undecodable image, missing field or host not allowed,
408 body stalled, 413 body too large, 415 wrong content type or image format, 422 JSON of the wrong
shape or with numbers out of range, 503 queue full (with Retry-After) or not ready. The OpenAPI
description at ``/openapi.json`` lists both request bodies and every status (openapi.py).
"""

import asyncio
import json
import threading
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ..data.preprocess import DEFAULT_MAX_PIXELS, ImageDecodeError
from ..predictor import Predictor, UnsupportedImageFormat, open_image_header
from .batcher import BatcherStopped, MicroBatcher, QueueFull
from .docs_pages import add_docs_routes
from .explain import ExplainError, ExplainQuery, Method
from .limits import BodyTimeout, BodyTooLarge, DecodeBudget, ServiceGuard
from .metrics import ServiceMetrics
from .openapi import MAX_INPUTS_PER_REQUEST, PREDICT_BODIES, PREDICT_ERRORS

STATIC = Path(__file__).parent / "static"
FLOAT32_MAX = float(np.finfo(np.float32).max)


class ClientError(Exception):
    def __init__(self, status: int, detail: str, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def create_app(model_path, max_batch_size: int = 32, max_wait_ms: float = 5.0, max_queue: int = 256,
               max_body_bytes: int = 10 * 1024 * 1024, max_pixels: int = DEFAULT_MAX_PIXELS,
               decode_pixels: int | None = None, allowed_hosts=("*",), read_timeout: float = 10.0,
               docs_dir=None, docs_url: str | None = None) -> FastAPI:
    """Load the model once and build the app (the batcher starts here, stops at shutdown).

    ``decode_pixels``: pixels decoded at once across all requests (default ``max_pixels``: one
    maximum-size image, or many small ones); ``allowed_hosts``: accepted ``Host`` names, ``"*"`` any;
    ``read_timeout``: seconds a request body may stall (408); ``docs_dir``, ``docs_url``: where the
    docs pages the web page links to are (docs_pages.py; default: the source tree's docs/).
    """
    budget = DecodeBudget(decode_pixels or max_pixels)  # an image larger than it decodes alone
    json_budget = DecodeBudget(max_body_bytes)  # one largest JSON body parsing at a time, or many small ones
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
    @app.exception_handler(BodyTimeout)
    async def body_refused(request: Request, error: Exception):
        status = 413 if isinstance(error, BodyTooLarge) else 408
        metrics.errors.labels(f"http_{status}").inc()
        return JSONResponse({"detail": str(error)}, status_code=status, headers={"Connection": "close"})

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, error: ClientDisconnect):
        metrics.errors.labels("client_disconnect").inc()  # not ours: nobody is left to answer
        return Response(status_code=499)  # nginx's "client closed request", for the request counter

    @app.exception_handler(Exception)
    async def internal(request: Request, error: Exception):  # a bug of ours; ServiceGuard logs and counts it
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return page

    app.mount("/static", StaticFiles(directory=STATIC), name="static")  # the page's scripts and styles
    add_docs_routes(app, docs_dir, docs_url)  # GET /docs-pages/{name}: each layer's link on the page

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

    @app.post("/predict", openapi_extra=PREDICT_BODIES, responses=PREDICT_ERRORS)
    async def predict(request: Request, explain: Annotated[ExplainQuery, Depends()], top_k: int = 5):
        with arriving:  # counted until its inputs are queued (or the request fails)
            inputs = await _read_inputs(request, model, max_pixels, budget, json_budget)
            if explain and len(inputs) != 1:
                raise ClientError(422, f"explain={explain.method.value} takes exactly one input")
            futures = [] if explain else _submit_all(batcher, inputs, metrics)
        if explain:
            # ---- explain views (strided/serve/explain): run under the model's lock, one input
            def run_explain():
                with lock:
                    return model.explain(inputs[0]) if explain.method is Method.maps else explain.run(model, inputs[0])

            try:
                result = await run_in_threadpool(run_explain)
            except ExplainError as error:
                raise ClientError(422, str(error)) from None
            rows = [result["probabilities"]]
            # ---- end of explain views
        else:
            rows = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        body = {"predictions": [_prediction(row, model.class_names, top_k) for row in rows],
                "model": {"name": model.name, "version": model.version}}
        if explain:
            body["explain"] = ({"layers": result["layers"], "filters": result["filters"]}
                               if explain.method is Method.maps else result["explain"])
        return body

    return ServiceGuard(app, max_body_bytes, allowed_hosts, read_timeout, metrics,
                        known_paths={route.path for route in app.routes})


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
    if not np.isfinite(probabilities).all():  # finite inputs can still overflow inside the network
        raise ClientError(422, "the model's output for this input is not finite (inputs too large?)")
    order = np.argsort(-probabilities, kind="stable")[: max(1, min(top_k, len(class_names)))]
    top = [{"class": class_names[i], "index": int(i), "probability": float(probabilities[i])} for i in order]
    return {**top[0], "top_k": top}


async def _read_inputs(request: Request, model: Predictor, max_pixels: int, budget: DecodeBudget,
                       json_budget: DecodeBudget) -> list:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form()
        except (BodyTooLarge, BodyTimeout, ClientDisconnect):
            raise
        except Exception as error:  # python-multipart's parse errors
            raise ClientError(400, f"malformed multipart body: {_one_line(error)}") from None
        upload = form.get("file")
        if upload is None or not hasattr(upload, "read"):
            raise ClientError(400, "expected an image in the multipart field 'file'")
        data = await upload.read()
        return [await _decode_upload(model, data, upload.filename or "upload", max_pixels, budget)]
    if content_type == "application/json":
        # The budget is taken before the body is read, so a body waiting its turn is still in the client's
        # socket, not in our memory (read first, 32 waiting 10 MB bodies held 320 MiB). Its share is the
        # declared Content-Length (ServiceGuard already refused one over the limit with 413), or a whole
        # budget for a chunked body of unknown length.
        declared = request.headers.get("content-length", "")
        share = int(declared) if declared.isdigit() else json_budget.capacity
        await json_budget.acquire(share)
        try:
            body = await request.body()
            return await run_in_threadpool(_json_inputs, body, model.input_shape)
        finally:
            await json_budget.release(share)
    raise ClientError(415, f"expected multipart/form-data (an image in field 'file') or application/json, "
                           f"got {content_type or 'no content type'}")


async def _decode_upload(model: Predictor, data: bytes, name: str, max_pixels: int, budget: DecodeBudget):
    """Read the header, wait until its pixels fit in the decode budget, then decode."""
    try:
        image = await run_in_threadpool(open_image_header, data, max_pixels, name)
        pixels = image.size[0] * image.size[1]
        await budget.acquire(pixels)
        try:
            return await run_in_threadpool(model.decode_image, image, name)
        finally:
            await budget.release(pixels)
    except UnsupportedImageFormat as error:
        raise ClientError(415, str(error)) from None
    except ImageDecodeError as error:
        raise ClientError(400, str(error)) from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _json_inputs(body: bytes, input_shape: tuple) -> list:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ClientError(400, f"body is not valid JSON: {error}") from None
    except RecursionError:
        raise ClientError(400, "body is not valid JSON: nested too deeply") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise ClientError(422, 'expected {"inputs": [array, ...]} with at least one array')
    if len(payload["inputs"]) > MAX_INPUTS_PER_REQUEST:
        raise ClientError(422, f"at most {MAX_INPUTS_PER_REQUEST} inputs per request, got {len(payload['inputs'])}")
    inputs = []
    for i, item in enumerate(payload["inputs"]):
        try:
            x = np.asarray(item, dtype=np.float64)
        except (ValueError, TypeError, RecursionError):
            raise ClientError(422, f"inputs[{i}] is not a rectangular array of numbers") from None
        except OverflowError:  # an integer of hundreds of digits
            raise ClientError(422, f"inputs[{i}] holds a number too large for a float") from None
        if x.shape != tuple(input_shape):
            raise ClientError(422, f"inputs[{i}] has shape {list(x.shape)}, expected {list(input_shape)}")
        if not np.isfinite(x).all():
            raise ClientError(422, f"inputs[{i}] contains NaN or infinite values")
        if np.abs(x).max(initial=0.0) > FLOAT32_MAX:
            raise ClientError(422, f"inputs[{i}] holds numbers beyond float32's range (+-{FLOAT32_MAX:.3g})")
        inputs.append(x)
    return inputs


__all__ = ["create_app"]
