"""Run the service with uvicorn: ``strided serve MODEL`` ends up here.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, lets in-flight requests finish (up to
``graceful_seconds``), then runs the app's shutdown, which drains the batcher's queue.
With several workers, each process loads the model itself; uvicorn needs an import string and a
factory for that, so the settings travel in an environment variable.
"""

import json
import os

CONFIG_ENV = "STRIDED_SERVE_CONFIG"


def app_from_env():
    """The app factory uvicorn calls in each worker process."""
    from .app import create_app

    return create_app(**json.loads(os.environ[CONFIG_ENV]))


def serve(model_path, host: str = "127.0.0.1", port: int = 8000, max_batch_size: int = 32,
          max_wait_ms: float = 5.0, max_queue: int = 256, max_body_bytes: int = 10 * 1024 * 1024,
          workers: int = 1, graceful_seconds: float = 30.0, log_level: str = "info") -> None:
    import uvicorn

    settings = {"model_path": str(model_path), "max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms,
                "max_queue": max_queue, "max_body_bytes": max_body_bytes}
    os.environ[CONFIG_ENV] = json.dumps(settings)
    app = "strided.serve.server:app_from_env" if workers > 1 else app_from_env()
    uvicorn.run(app, host=host, port=port, workers=workers, factory=workers > 1, log_level=log_level,
                timeout_graceful_shutdown=graceful_seconds)
