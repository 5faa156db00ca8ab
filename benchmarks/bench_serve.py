"""Throughput and latency of `strided serve`: a real server process, concurrent clients, PNG uploads.

    python benchmarks/bench_serve.py MODEL [--concurrency 1 16 64] [--requests 2000] [--max-batch-size 32]

Starts `strided serve MODEL` on a free port of 127.0.0.1, waits for /readyz, then for each
concurrency level posts ``--requests`` predictions (the PNG digits of examples/images, in turn)
from that many client threads and prints one JSON line: throughput, p50/p99 latency, errors, and
the server's average batch size over that level (inferences / executions, read from /metrics).
The clients run on the same machine as the server, so on two cores they take CPU from it: the
figures are a lower bound for a server with the machine to itself. benchmarks/RESULTS.md records them.
"""

import argparse
import json
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from strided.serve.loadtest import LiveServer, run_load  # noqa: E402

IMAGES = Path(__file__).resolve().parents[1] / "examples" / "images"


def batch_counters(url: str) -> tuple[float, float]:
    """(inferences, executions) so far, from the server's Prometheus text."""
    values = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for sample in family.samples:
            values[sample.name] = sample.value
    return values["strided_inferences_total"], values["strided_executions_total"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model file, e.g. runs/demo/model.safetensors from `strided train`")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--max-batch-size", default="32")
    parser.add_argument("--max-wait-ms", default="5")
    args = parser.parse_args()
    payloads = [{"files": {"file": (path.name, path.read_bytes(), "image/png")}}
                for path in sorted(IMAGES.glob("*.png"))]
    server = LiveServer(args.model, "--max-batch-size", args.max_batch_size, "--max-wait-ms", args.max_wait_ms)
    url = server.url
    try:
        run_load(url + "/predict", payloads, requests=100, concurrency=4)  # warm-up
        for clients in args.concurrency:
            inferences, executions = batch_counters(url)
            stats = run_load(url + "/predict", payloads, requests=args.requests, concurrency=clients,
                             time_limit=300)
            inferences_after, executions_after = batch_counters(url)
            stats["average_batch"] = (inferences_after - inferences) / max(executions_after - executions, 1)
            print(json.dumps({key: round(value, 2) if isinstance(value, float) else value
                              for key, value in stats.items()}), flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
