"""``strided serve MODEL [--host 127.0.0.1] [--port 8000] ...``: the HTTP service and web page."""

from pathlib import Path


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors), or an ONNX file (.onnx)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-batch-size", type=int, default=32, help="inputs gathered into one forward pass")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for company")
    parser.add_argument("--max-queue", type=int, default=256, help="inputs waiting before 503 (bounded queue)")
    parser.add_argument("--max-body-mb", type=float, default=10.0, help="largest request body accepted")
    parser.add_argument("--workers", type=int, default=1, help="processes, each with its own copy of the model")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])


def run(args) -> int:
    if not Path(args.model).is_file():
        raise FileNotFoundError(2, "no such model file", args.model)
    try:
        from ..serve.server import serve
    except ImportError as error:
        raise ImportError(f"the service needs its extra: pip install 'strided[serve]' ({error})") from error
    serve(args.model, host=args.host, port=args.port, max_batch_size=args.max_batch_size,
          max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, max_body_bytes=int(args.max_body_mb * 2**20),
          workers=args.workers, log_level=args.log_level)
    return 0
