"""``strided serve MODEL [--host 127.0.0.1] [--port 8000] ...``: the HTTP service and web page."""

import argparse
import socket
from pathlib import Path

from .common import positive_int, require_extra


def add_arguments(parser) -> None:
    parser.add_argument("model", help="a model file written by strided train (.safetensors), or an ONNX file (.onnx)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on; 0.0.0.0 for every interface")
    parser.add_argument("--port", type=int, default=8000, help="0 to 65535")
    parser.add_argument("--max-batch-size", type=positive_int, default=32, help="inputs gathered into one forward pass")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="how long a request waits for company")
    parser.add_argument("--max-queue", type=positive_int, default=256, help="inputs waiting before 503 (bounded queue)")
    parser.add_argument("--max-body-mb", type=float, default=10.0, help="largest request body accepted (413)")
    parser.add_argument("--max-pixels", type=positive_int, default=40_000_000,
                        help="largest image accepted, in pixels (400 above)")
    parser.add_argument("--decode-pixels", type=positive_int, default=None,
                        help="pixels decoded at once across all requests; more wait their turn "
                             "(default: --max-pixels, one maximum-size image)")
    parser.add_argument("--allowed-hosts", default=None,
                        help="comma-separated Host names accepted, or '*' (default: localhost, 127.0.0.1 and "
                             "::1 when --host is a loopback address, else any)")
    parser.add_argument("--read-timeout", type=float, default=10.0,
                        help="seconds a client may stall while sending headers or body (then 408 or closed)")
    parser.add_argument("--limit-concurrency", type=positive_int, default=512,
                        help="open connections past which new requests get 503")
    parser.add_argument("--workers", type=positive_int, default=1,
                        help="processes, each with its own copy of the model")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter


def run(args) -> int:
    if not Path(args.model).is_file():
        raise FileNotFoundError(2, "no such model file", args.model)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    require_extra("serve", "fastapi", "uvicorn", "multipart", "prometheus_client", "PIL", "safetensors")
    _check_port_free(args.host, args.port)
    from ..serve.server import serve

    hosts = None if args.allowed_hosts is None else [h.strip() for h in args.allowed_hosts.split(",") if h.strip()]
    serve(args.model, host=args.host, port=args.port, max_batch_size=args.max_batch_size,
          max_wait_ms=args.max_wait_ms, max_queue=args.max_queue, max_body_bytes=int(args.max_body_mb * 2**20),
          workers=args.workers, log_level=args.log_level, max_pixels=args.max_pixels,
          decode_pixels=args.decode_pixels, allowed_hosts=hosts, read_timeout=args.read_timeout,
          limit_concurrency=args.limit_concurrency)
    return 0


def _check_port_free(host: str, port: int) -> None:
    """Bind once as uvicorn will, so that a port in use is one line here, not uvicorn's log and exit."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise OSError(f"cannot listen on {host}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise OSError(f"cannot listen on {host}:{port}: {error.strerror}") from None
